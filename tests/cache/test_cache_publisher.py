"""CachePublisher against a real redis-server: what lands in Redis, and when."""

from __future__ import annotations

import asyncio

import orjson
from cache_fixtures import wait_until
from redis.asyncio import Redis
from static_engine import StaticEngine

from kraken_tui.cache.codec import decode_part, snapshot_from_parts
from kraken_tui.cache.presence import EngineHeartbeat
from kraken_tui.cache.publisher import CachePublisher
from kraken_tui.cache.service import EngineCache
from kraken_tui.engine.api import EngineSnapshot
from kraken_tui.settings import RedisSettings


async def read_state(redis: Redis, key: str) -> dict[str, object]:
    state = await redis.hgetall(key)
    return {
        k.decode(): decode_part(k.decode(), v) for k, v in state.items() if not k.startswith(b"_")
    }


async def test_the_state_hash_holds_the_engines_whole_snapshot(
    served: EngineCache, engine: StaticEngine, redis_server: str
) -> None:
    redis = Redis.from_url(redis_server)
    try:
        parts = await read_state(redis, served.publisher.keys.state)
    finally:
        await redis.aclose()
    assert snapshot_from_parts(parts) == engine.snapshot()


async def test_a_change_publishes_only_the_parts_that_changed(
    served: EngineCache, engine: StaticEngine, redis_server: str
) -> None:
    redis = Redis.from_url(redis_server)
    keys = served.publisher.keys
    try:
        [(last_id, _)] = await redis.xrevrange(keys.changes, count=1)
        await engine.pause("sma_cross")
        await wait_until(lambda: served.publisher.published >= 2)
        entries = await redis.xrange(keys.changes, min=f"({last_id.decode()}")
    finally:
        await redis.aclose()
    assert len(entries) == 1
    fields = {k.decode() for k in entries[0][1] if not k.startswith(b"_")}
    assert fields == {"strategies"}
    strategies = decode_part("strategies", entries[0][1][b"strategies"])
    assert strategies == engine.snapshot().strategies


async def test_an_unchanged_engine_publishes_nothing_but_heartbeats(
    served: EngineCache, redis_server: str
) -> None:
    redis = Redis.from_url(redis_server)
    try:
        before = await redis.xlen(served.publisher.keys.changes)
        await asyncio.sleep(0.3)
        after = await redis.xlen(served.publisher.keys.changes)
    finally:
        await redis.aclose()
    assert before == after == 1


async def test_log_lines_are_published_in_order(
    served: EngineCache, engine: StaticEngine, redis_server: str
) -> None:
    await engine.kill_switch("test")
    redis = Redis.from_url(redis_server)
    try:
        await wait_until(lambda: served.publisher._log_seq == engine.log_lines_since(0)[-1].seq)
        entries = await redis.xrange(served.publisher.keys.log)
    finally:
        await redis.aclose()
    messages = [orjson.loads(fields[b"line"])["message"] for _, fields in entries]
    assert messages == [line.message for line in engine.log_lines_since(0)]
    assert messages[-1].startswith("kill switch fired (test)")


async def test_heartbeat_has_a_ttl_and_disappears_at_stop(
    engine: StaticEngine, redis_settings: RedisSettings, redis_server: str
) -> None:
    publisher = CachePublisher(engine, redis_settings, heartbeat_ttl_s=3)
    await publisher.start()
    redis = Redis.from_url(redis_server)
    try:
        await asyncio.wait_for(publisher.connected.wait(), 5)
        ttl_ms = await redis.pttl(publisher.keys.heartbeat)
        beat = EngineHeartbeat.parse(await redis.get(publisher.keys.heartbeat))
        await publisher.stop()
        assert await redis.exists(publisher.keys.heartbeat) == 0
    finally:
        await redis.aclose()
    assert 0 < ttl_ms <= 3000
    assert beat.engine_id == redis_settings.engine_id and beat.state == "running"
    assert beat.remote_control is True


async def test_books_deeper_than_the_ladder_are_cut_to_top_levels(
    engine: StaticEngine, redis_settings: RedisSettings, redis_server: str
) -> None:
    publisher = CachePublisher(engine, redis_settings, book_depth=5)
    await publisher.start()
    redis = Redis.from_url(redis_server)
    try:
        await asyncio.wait_for(publisher.connected.wait(), 5)
        book = decode_part("book:BTC/USD", await redis.hget(publisher.keys.state, "book:BTC/USD"))
    finally:
        await publisher.stop()
        await redis.aclose()
    local = engine.snapshot().books["BTC/USD"]
    assert book.bids == local.bids[:5] and book.asks == local.asks[:5]


async def test_publisher_is_disabled_without_a_redis_url(engine: StaticEngine) -> None:
    publisher = CachePublisher(engine, RedisSettings())
    await publisher.start()
    assert not publisher.enabled and publisher._task is None
    await publisher.stop()


class SnapshotFailsOnce(StaticEngine):
    """An engine whose snapshot() raises once, as a bug in a snapshot part would."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    def snapshot(self) -> EngineSnapshot:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("snapshot bug")
        return super().snapshot()


async def test_the_publisher_outlives_an_engine_error(
    redis_settings: RedisSettings, redis_server: str
) -> None:
    engine = SnapshotFailsOnce()
    publisher = CachePublisher(engine, redis_settings)
    await publisher.start()
    try:
        await asyncio.wait_for(publisher.connected.wait(), 5)
    finally:
        await publisher.stop()
    assert engine.failures_left == 0 and publisher.published >= 1
