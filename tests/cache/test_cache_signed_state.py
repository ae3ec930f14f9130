"""What the publisher writes is signed, and an attached console trusts only what verifies:
forged entries written straight into the real Redis are not applied and the console says
UNVERIFIED instead of showing them as the engine's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from cache_fixtures import COMMAND_SECRET, WRONG_SECRET, wait_until
from pydantic import SecretStr
from redis.asyncio import Redis
from static_engine import StaticEngine

from kraken_tui.cache.codec import encode
from kraken_tui.cache.keys import EngineKeys
from kraken_tui.cache.presence import EngineHeartbeat
from kraken_tui.cache.remote import RemoteEngine
from kraken_tui.cache.service import EngineCache
from kraken_tui.cache.signing import Purpose, Signer
from kraken_tui.domain import ConnectionState, TradingState
from kraken_tui.engine.api import LogLine
from kraken_tui.settings import RedisSettings


@pytest.fixture
async def redis(redis_server: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server)
    yield client
    await client.aclose()


@pytest.fixture
async def attached(
    served: EngineCache, redis_settings: RedisSettings
) -> AsyncIterator[RemoteEngine]:
    async with RemoteEngine(redis_settings, heartbeat_check_s=0.1) as remote:
        assert await remote.wait_ready(5)
        assert remote.link.state is ConnectionState.CONNECTED
        yield remote


def forged_halt(engine: StaticEngine) -> bytes:
    return encode(replace(engine.snapshot().risk, trading_state=TradingState.HALTED, reason="x"))


async def test_everything_the_publisher_writes_verifies_for_its_engine_only(
    served: EngineCache, engine: StaticEngine, redis: Redis
) -> None:
    await engine.pause("sma_cross")
    await wait_until(lambda: served.publisher.published >= 2)
    keys = served.publisher.keys
    signer = Signer(COMMAND_SECRET, keys)
    state = await redis.hgetall(keys.state)
    changes = await redis.xrange(keys.changes)
    log = await redis.xrange(keys.log)
    beat = await redis.get(keys.heartbeat)
    assert signer.fields_valid(Purpose.STATE, state)
    assert len(changes) == 2 and all(signer.fields_valid(Purpose.CHANGE, f) for _, f in changes)
    assert log and all(signer.fields_valid(Purpose.LOG, fields) for _, fields in log)
    assert 1 <= EngineHeartbeat.verified(beat, signer, 30).seq <= served.publisher._seq
    for other in (
        Signer(COMMAND_SECRET, EngineKeys(keys.key_prefix, "another")),
        Signer(COMMAND_SECRET, EngineKeys("another", keys.engine_id)),
        Signer(WRONG_SECRET, keys),
    ):
        assert not other.fields_valid(Purpose.STATE, state)
        assert not other.fields_valid(Purpose.CHANGE, changes[-1][1])
    assert not signer.fields_valid(Purpose.CHANGE, state)


async def test_a_forged_change_entry_is_not_applied_and_the_link_shows_unverified(
    served: EngineCache, engine: StaticEngine, attached: RemoteEngine, redis: Redis
) -> None:
    publisher = served.publisher
    unsigned = {
        "_run": publisher.run_id,
        "_seq": str(publisher._seq + 1),
        "_v": "1",
        "_removed": b"[]",
        "risk": forged_halt(engine),
    }
    wrongly_signed = {
        **unsigned,
        "_sig": Signer(WRONG_SECRET, publisher.keys).sign_fields(Purpose.CHANGE, unsigned),
    }
    for forged in (unsigned, wrongly_signed):
        await redis.xadd(publisher.keys.changes, forged)
    await wait_until(lambda: attached.link.state is ConnectionState.UNVERIFIED)
    assert "change entry that failed its signature check" in attached.link.reason
    shown = attached.snapshot()
    assert shown.connection is not None and shown.connection.state is ConnectionState.UNVERIFIED
    assert shown.risk.trading_state is TradingState.ACTIVE
    assert all(book.stale for book in shown.books.values())

    await engine.pause("sma_cross")
    await wait_until(lambda: attached.snapshot().strategies == engine.snapshot().strategies)
    assert attached.snapshot().risk.trading_state is TradingState.ACTIVE
    assert attached.link.state is ConnectionState.UNVERIFIED


async def test_a_forged_state_hash_is_not_shown(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings, redis: Redis
) -> None:
    await redis.hset(served.publisher.keys.state, "risk", forged_halt(engine))
    async with RemoteEngine(redis_settings) as remote:
        assert not await remote.wait_ready(1)
        shown = remote.snapshot()
        assert remote.link.state is ConnectionState.UNVERIFIED
        assert remote.link.reason == "engine state failed its signature check"
    assert shown.risk.trading_state is TradingState.ACTIVE and shown.strategies == ()


async def test_an_older_signed_state_written_back_is_not_shown(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings, redis: Redis
) -> None:
    keys = served.publisher.keys
    before = await redis.hgetall(keys.state)
    await engine.kill_switch("drill")
    await wait_until(lambda: served.publisher.published >= 2)
    await asyncio.sleep(1.2)  # the heartbeat, refreshed each second, now carries the new seq
    await redis.delete(keys.state)
    await redis.hset(keys.state, mapping=before)
    async with RemoteEngine(redis_settings) as remote:
        assert not await remote.wait_ready(1)
        assert remote.link.state is ConnectionState.UNVERIFIED
        assert "older than the engine" in remote.link.reason
        assert remote.snapshot().strategies == ()


async def test_a_forged_log_line_is_not_shown(
    served: EngineCache, attached: RemoteEngine, redis: Redis
) -> None:
    line = LogLine(10_000, datetime.now(UTC), "WARNING", "risk", "forged: paste your API key")
    await redis.xadd(
        served.publisher.keys.log, {"run": served.publisher.run_id, "line": encode(line)}
    )
    await wait_until(lambda: attached.link.state is ConnectionState.UNVERIFIED)
    assert "log entry" in attached.link.reason
    assert all("forged" not in shown.message for shown in attached.log_lines_since(0))


async def test_an_unsigned_or_replayed_heartbeat_does_not_show_an_engine_as_connected(
    engine: StaticEngine, redis_settings: RedisSettings, redis: Redis
) -> None:
    cache = EngineCache(engine, redis_settings)
    await cache.start()
    await asyncio.wait_for(cache.publisher.connected.wait(), 5)
    keys = cache.publisher.keys
    genuine = orjson.loads(await redis.get(keys.heartbeat))
    async with RemoteEngine(redis_settings, heartbeat_check_s=0.1) as remote:
        assert await remote.wait_ready(5)
        await cache.stop()
        await wait_until(lambda: remote.link.state is ConnectionState.DISCONNECTED)

        unsigned = {k: v for k, v in genuine.items() if k != "sig"}
        unsigned["ts"] = datetime.now(UTC).isoformat()
        await redis.set(keys.heartbeat, orjson.dumps(unsigned), px=5000)
        await wait_until(lambda: remote.link.state is ConnectionState.UNVERIFIED)
        assert remote.link.reason == "heartbeat failed its signature check"

        replayed = {**unsigned, "ts": (datetime.now(UTC) - timedelta(minutes=2)).isoformat()}
        replayed["sig"] = Signer(COMMAND_SECRET, keys).sign_object(Purpose.HEARTBEAT, replayed)
        await redis.set(keys.heartbeat, orjson.dumps(replayed), px=5000)
        await wait_until(lambda: "signed 120 s ago" in remote.link.reason)
        assert remote.link.state is ConnectionState.UNVERIFIED and remote.heartbeat is None


async def test_a_console_with_another_secret_trusts_nothing(
    served: EngineCache, redis_settings: RedisSettings
) -> None:
    other = redis_settings.model_copy(update={"command_secret": SecretStr(WRONG_SECRET)})
    async with RemoteEngine(other) as remote:
        assert not await remote.wait_ready(1)
        assert remote.link.state is ConnectionState.UNVERIFIED
        assert remote.snapshot().strategies == ()


async def test_a_console_with_a_secret_does_not_trust_an_engine_publishing_unsigned(
    engine: StaticEngine, redis_settings: RedisSettings
) -> None:
    unsigned = redis_settings.model_copy(update={"command_secret": None})
    cache = EngineCache(engine, unsigned)
    await cache.start()
    try:
        await asyncio.wait_for(cache.publisher.connected.wait(), 5)
        async with RemoteEngine(redis_settings) as remote:
            assert not await remote.wait_ready(1)
            assert remote.link.reason == (
                "engine state is not signed (engine without redis.command_secret?)"
            )
    finally:
        await cache.stop()
