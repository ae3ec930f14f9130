"""Which engines are alive: each running publisher keeps a heartbeat key with a short TTL, so
a crashed engine disappears by itself within seconds, with nothing to clean up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from redis.asyncio import Redis

from kraken_tui.cache.keys import EngineKeys, heartbeat_pattern


@dataclass(frozen=True, slots=True)
class EngineHeartbeat:
    engine_id: str
    run: str
    pid: int
    host: str
    mode: str
    state: str
    started_at: datetime
    ts: datetime
    remote_control: bool

    @classmethod
    def parse(cls, payload: bytes) -> EngineHeartbeat:
        data = orjson.loads(payload)
        return cls(
            engine_id=str(data["engine_id"]),
            run=str(data["run"]),
            pid=int(data["pid"]),
            host=str(data["host"]),
            mode=str(data["mode"]),
            state=str(data["state"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            ts=datetime.fromisoformat(data["ts"]),
            remote_control=bool(data["remote_control"]),
        )

    def age_s(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.ts).total_seconds()


async def read_heartbeat(redis: Redis, keys: EngineKeys) -> EngineHeartbeat | None:
    """The engine's heartbeat, or None when it is not running (or its heartbeat is unreadable)."""
    payload = await redis.get(keys.heartbeat)
    if payload is None:
        return None
    try:
        return EngineHeartbeat.parse(payload)
    except (ValueError, KeyError, TypeError):
        return None


async def live_engines(redis: Redis, key_prefix: str) -> list[EngineHeartbeat]:
    """Every engine with a live heartbeat under `key_prefix`, sorted by engine id."""
    found: list[EngineHeartbeat] = []
    async for key in redis.scan_iter(match=heartbeat_pattern(key_prefix), count=200):
        payload = await redis.get(key)
        if payload is None:
            continue
        try:
            found.append(EngineHeartbeat.parse(payload))
        except (ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda beat: beat.engine_id)
