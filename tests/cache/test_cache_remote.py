"""RemoteEngine against a real redis-server and a published engine: replication, identity
of unchanged parts, commands, and what it shows when the engine goes away."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from cache_fixtures import COMMAND_SECRET, wait_until
from redis.asyncio import Redis
from static_engine import StaticEngine

from kraken_tui.cache.remote import RemoteEngine
from kraken_tui.cache.service import EngineCache
from kraken_tui.cache.signing import Purpose, Signer
from kraken_tui.domain import ConnectionState, OrderType, Side, StrategyState, TradingState
from kraken_tui.engine.api import ManualOrder
from kraken_tui.settings import RedisSettings


async def test_the_remote_snapshot_equals_the_local_one(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings
) -> None:
    async with RemoteEngine(redis_settings) as remote:
        assert await remote.wait_ready(5)
        assert remote.snapshot() == engine.snapshot()
        assert remote.link.state is ConnectionState.CONNECTED
        assert remote.heartbeat is not None and remote.heartbeat.run == served.publisher.run_id


async def test_changes_arrive_and_untouched_parts_keep_their_identity(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings
) -> None:
    async with RemoteEngine(redis_settings) as remote:
        assert await remote.wait_ready(5)
        before = remote.snapshot()
        await engine.pause("grid_btc")
        await wait_until(lambda: remote.snapshot() is not before)
        after = remote.snapshot()
        assert after.strategies == engine.snapshot().strategies
        assert after.books is before.books and after.positions is before.positions
        assert after.candles is before.candles and after.portfolio is before.portfolio
        assert remote.resyncs == 1


async def test_log_lines_are_followed_in_order_and_numbered_locally(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings
) -> None:
    async with RemoteEngine(redis_settings) as remote:
        assert await remote.wait_ready(5)
        seeded = remote.log_lines_since(0)
        assert [line.message for line in seeded] == [
            line.message for line in engine.log_lines_since(0)
        ]
        last = seeded[-1].seq
        await engine.cancel_all()
        await wait_until(lambda: bool(remote.log_lines_since(last)))
        [new] = remote.log_lines_since(last)
        assert new.seq == last + 1 and new.message == "cancel all: 3 orders canceled"
        assert remote.log_lines_since(0, limit=2) == seeded[:2]


async def test_every_command_goes_through_to_the_engine(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings
) -> None:
    async with RemoteEngine(redis_settings) as remote:
        assert await remote.wait_ready(5)
        assert (await remote.pause("sma_cross")).ok
        assert (await remote.resume("rsi_revert")).ok
        assert (await remote.pause_all()).ok
        assert (await remote.resume_all()).ok
        order = ManualOrder("ETH/USD", Side.SELL, OrderType.LIMIT, Decimal("0.5"), Decimal("3500"))
        placed = await remote.submit_manual_order(order)
        assert placed.ok
        assert (await remote.cancel_order(placed.detail["cl_ord_id"])).ok
        assert (await remote.cancel_all()).ok
        assert (await remote.kill_switch("drill")).ok
        assert (await remote.reset_kill_switch()).ok
        denied = await remote.resume("nonexistent")
        assert not denied.ok and "no strategy named" in denied.message
    assert engine.commands == [
        "pause:sma_cross",
        "resume:rsi_revert",
        "pause_all",
        "resume_all",
        "submit:ETH/USD:sell:0.5",
        "cancel:manual-0101",
        "cancel_all",
        "kill_switch",
        "reset_kill_switch",
    ]


async def test_a_console_without_the_secret_is_read_only_and_shows_all_as_unverified(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings
) -> None:
    read_only = redis_settings.model_copy(update={"command_secret": None})
    async with RemoteEngine(read_only) as remote:
        assert await remote.wait_ready(5)
        result = await remote.kill_switch()
        shown = remote.snapshot()
    assert not result.ok and "read-only" in result.message
    assert shown.connection is not None
    assert shown.connection.state is ConnectionState.UNVERIFIED
    assert "no redis.command_secret" in shown.connection.reason
    assert shown.strategies == engine.snapshot().strategies
    assert engine.snapshot().risk.trading_state is TradingState.ACTIVE


async def test_preview_order_is_decided_from_the_replicated_state(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings
) -> None:
    order = ManualOrder("BTC/USD", Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal("64000.0"))
    async with RemoteEngine(redis_settings) as remote:
        assert await remote.wait_ready(5)
        assert remote.preview_order(order).allowed
        off_tick = remote.preview_order(
            ManualOrder("BTC/USD", Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal("64000.05"))
        )
        assert not off_tick.allowed and off_tick.reason == "EOrder:Tick size check failed"
        await engine.kill_switch()
        await wait_until(lambda: remote.snapshot().risk.trading_state is TradingState.HALTED)
        assert remote.preview_order(order).rule == "trading_state"


async def test_a_stopped_engine_shows_as_disconnected_with_stale_books(
    engine: StaticEngine, redis_settings: RedisSettings
) -> None:
    cache = EngineCache(engine, redis_settings)
    await cache.start()
    await asyncio.wait_for(cache.publisher.connected.wait(), 5)
    async with RemoteEngine(redis_settings, heartbeat_check_s=0.1) as remote:
        assert await remote.wait_ready(5)
        await cache.stop()
        await wait_until(lambda: remote.link.state is ConnectionState.DISCONNECTED)
        shown = remote.snapshot()
        assert shown.connection is not None
        assert shown.connection.state is ConnectionState.DISCONNECTED
        assert "no heartbeat" in shown.connection.reason
        assert all(book.stale for book in shown.books.values())
        assert shown.strategies == engine.snapshot().strategies


async def test_an_engine_restart_is_followed_from_its_new_run(
    engine: StaticEngine, redis_settings: RedisSettings
) -> None:
    first = EngineCache(engine, redis_settings)
    await first.start()
    await asyncio.wait_for(first.publisher.connected.wait(), 5)
    async with RemoteEngine(redis_settings, heartbeat_check_s=0.1) as remote:
        assert await remote.wait_ready(5)
        await first.stop()
        restarted = StaticEngine()
        await restarted.pause_all()
        second = EngineCache(restarted, redis_settings)
        await second.start()
        try:
            await wait_until(
                lambda: {s.state for s in remote.snapshot().strategies} == {StrategyState.PAUSED}
            )
            await wait_until(lambda: remote.link.state is ConnectionState.CONNECTED)
            assert remote.heartbeat is not None
            assert remote.heartbeat.run == second.publisher.run_id
            assert remote.snapshot().ts <= datetime.now(UTC)
        finally:
            await second.stop()


async def test_a_corrupt_change_entry_makes_the_console_resync_not_fail(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings, redis_server: str
) -> None:
    async with RemoteEngine(redis_settings) as remote:
        assert await remote.wait_ready(5)
        redis = Redis.from_url(redis_server)
        try:
            publisher = served.publisher
            entry = {"_run": publisher.run_id, "_seq": str(publisher._seq + 1), "risk": b"{broken"}
            signer = Signer(COMMAND_SECRET, publisher.keys)
            await redis.xadd(
                publisher.keys.changes, {**entry, "_sig": signer.sign_fields(Purpose.CHANGE, entry)}
            )
        finally:
            await redis.aclose()
        await wait_until(lambda: remote.resyncs >= 2)
        await engine.pause("sma_cross")
        await wait_until(lambda: remote.snapshot() == engine.snapshot())
