"""Which engines are alive: each running publisher keeps a heartbeat key with a short TTL, so
a crashed engine disappears by itself within seconds, with nothing to clean up. A signed
heartbeat also says which run and sequence number the engine's state has reached."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from kraken_tui.cache.keys import EngineKeys, heartbeat_pattern
from kraken_tui.cache.signing import Purpose, Signer


class Unverified(Exception):
    """Something read from Redis that no valid signature vouches for; the message says what."""


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
    seq: int = 0
    """Sequence number of the state published with this heartbeat (0 from older engines)."""

    @classmethod
    def parse(cls, payload: bytes) -> EngineHeartbeat:
        return cls._from_fields(orjson.loads(payload))

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> EngineHeartbeat:
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
            seq=int(data.get("seq", 0)),
        )

    @classmethod
    def verified(cls, payload: bytes, signer: Signer, max_age_s: float) -> EngineHeartbeat:
        """The heartbeat if `signer` vouches for it and it was signed less than `max_age_s`
        ago (a copy written back later would otherwise keep a dead engine looking alive);
        raises `Unverified` otherwise."""
        try:
            data = orjson.loads(payload)
            beat = cls._from_fields(data)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise Unverified("heartbeat unreadable") from None
        if not signer.object_valid(Purpose.HEARTBEAT, data):
            raise Unverified("heartbeat failed its signature check")
        age = beat.age_s()
        if abs(age) > max_age_s:
            raise Unverified(f"heartbeat signed {age:.0f} s ago (replayed, or clocks apart)")
        return beat

    def age_s(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.ts).total_seconds()


async def read_heartbeat(redis: Redis, keys: EngineKeys) -> EngineHeartbeat | None:
    """The engine's heartbeat, or None when it is not running (or its heartbeat is unreadable)."""
    # redis-py types replies for every connection mode; ours (no decode_responses) gives bytes.
    payload = cast(bytes | None, await redis.get(keys.heartbeat))
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
        payload = cast(bytes | None, await redis.get(key))
        if payload is None:
            continue
        try:
            found.append(EngineHeartbeat.parse(payload))
        except (ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda beat: beat.engine_id)
