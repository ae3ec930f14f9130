"""The console attached to a remote engine, through Textual's Pilot: remote state on screen,
keys acting on the engine behind Redis, and a Redis killed and restarted under it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest
from cache_fixtures import COMMAND_SECRET, KEY_PREFIX, PrivateRedis, wait_until
from loguru import logger
from pydantic import SecretStr
from redis.asyncio import Redis
from static_engine import FIXED_NOW, StaticEngine
from textual.widgets import DataTable

from kraken_tui.cache.codec import encode
from kraken_tui.cache.remote import RemoteEngine
from kraken_tui.cache.service import EngineCache
from kraken_tui.domain import ConnectionState, StrategyState, TradingState
from kraken_tui.settings import RedisSettings
from kraken_tui.ui.app import KrakenTuiApp
from kraken_tui.ui.widgets.log_panel import LogPanel
from kraken_tui.ui.widgets.order_book_ladder import OrderBookLadder
from kraken_tui.ui.widgets.status_bar import StatusBar

SIZE = (120, 40)


def strategy_cell(app: KrakenTuiApp, name: str) -> str:
    table = app.screen.query_one("#strategies", DataTable)
    return str(table.get_cell(name, "state"))


def state_of(engine: StaticEngine, name: str) -> StrategyState:
    return next(s.state for s in engine.snapshot().strategies if s.name == name)


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    seen: list[str] = []
    sink = logger.add(lambda m: seen.append(m.record["message"]), level="WARNING")
    yield seen
    logger.remove(sink)


async def test_attach_shows_remote_state_and_p_pauses_on_the_engine(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings
) -> None:
    async with RemoteEngine(redis_settings) as remote:
        assert await remote.wait_ready(5)
        app = KrakenTuiApp(remote, mode=remote.snapshot().mode, clock=lambda: FIXED_NOW)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.2)
            assert "RUNNING" in strategy_cell(app, "sma_cross")
            assert "PAUSED" in strategy_cell(app, "rsi_revert")
            assert "SANDBOX" in app.screen.query_one(StatusBar).plain
            await pilot.press("p")
            await wait_until(lambda: state_of(engine, "sma_cross") is StrategyState.PAUSED)
            await wait_until(lambda: "PAUSED" in strategy_cell(app, "sma_cross"))
            await pilot.press("down", "p")
            await wait_until(lambda: state_of(engine, "rsi_revert") is StrategyState.RUNNING)
    assert engine.commands == ["pause:sma_cross", "resume:rsi_revert"]


async def test_attach_shows_forged_state_as_unverified_and_does_not_apply_it(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings, redis_server: str
) -> None:
    """Someone with write access to the Redis but not the secret adds a change entry that
    halts trading and pauses a strategy, as the engine's next change."""
    publisher = served.publisher
    snapshot = engine.snapshot()
    forged = {
        "_run": publisher.run_id,
        "_seq": str(publisher._seq + 1),
        "_v": "1",
        "_removed": b"[]",
        "risk": encode(replace(snapshot.risk, trading_state=TradingState.HALTED, reason="x")),
        "strategies": encode(
            tuple(replace(s, state=StrategyState.PAUSED) for s in snapshot.strategies)
        ),
    }
    async with RemoteEngine(redis_settings, heartbeat_check_s=0.1) as remote:
        assert await remote.wait_ready(5)
        app = KrakenTuiApp(remote, mode=remote.snapshot().mode, clock=lambda: FIXED_NOW)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.2)
            bar = app.screen.query_one(StatusBar)
            assert "UNVERIFIED" not in bar.plain
            redis = Redis.from_url(redis_server)
            try:
                await redis.xadd(publisher.keys.changes, forged)
            finally:
                await redis.aclose()
            await wait_until(lambda: "● UNVERIFIED" in bar.plain)
            assert app.screen.query_one(OrderBookLadder).border_subtitle == "FEED UNVERIFIED"
            assert "HALTED" not in bar.plain and "ACTIVE" in bar.plain
            assert "RUNNING" in strategy_cell(app, "sma_cross")
    assert engine.commands == []


async def test_redis_killed_and_restarted_mid_run_is_survived_and_shown(
    private_redis: PrivateRedis, engine_id: str, warnings: list[str]
) -> None:
    settings = RedisSettings(
        url=private_redis.url,
        command_secret=SecretStr(COMMAND_SECRET),
        engine_id=engine_id,
        key_prefix=KEY_PREFIX,
    )
    engine = StaticEngine()
    cache = EngineCache(engine, settings)
    await cache.start()
    try:
        await asyncio.wait_for(cache.publisher.connected.wait(), 5)
        async with RemoteEngine(settings, heartbeat_check_s=0.2) as remote:
            assert await remote.wait_ready(5)
            app = KrakenTuiApp(remote, mode=remote.snapshot().mode, clock=lambda: FIXED_NOW)
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause(0.2)
                private_redis.kill()

                await wait_until(lambda: remote.link.state is ConnectionState.RECONNECTING)
                await wait_until(lambda: "RECONNECTING" in app.screen.query_one(StatusBar).plain)
                ladder = app.screen.query_one(OrderBookLadder)
                assert ladder.border_subtitle == "FEED RECONNECTING"

                panel = app.screen.query_one(LogPanel)
                level_before = panel.min_level
                await pilot.press("l")
                assert panel.min_level != level_before, "the console stopped answering keys"
                await engine.pause("sma_cross")
                await wait_until(lambda: not cache.publisher.connected.is_set())
                # retried in the background (and warned once, asserted below) while down
                await wait_until(lambda: cache.commands._outage.failures >= 2)

                private_redis.start()
                await asyncio.wait_for(cache.publisher.connected.wait(), 10)
                await wait_until(lambda: remote.link.state is ConnectionState.CONNECTED, 10)
                await wait_until(lambda: "PAUSED" in strategy_cell(app, "sma_cross"), 5)
                await wait_until(
                    lambda: "RECONNECTING" not in app.screen.query_one(StatusBar).plain
                )
                assert remote.snapshot() == engine.snapshot()

                await asyncio.wait_for(cache.commands.listening.wait(), 10)
                resumed = await remote.resume("sma_cross")
                assert resumed.ok, resumed.message
                assert state_of(engine, "sma_cross") is StrategyState.RUNNING
    finally:
        await cache.stop()

    redis = Redis.from_url(private_redis.url)
    try:
        assert await redis.exists(cache.publisher.keys.state) == 1
    finally:
        await redis.aclose()
    for component, outage in [
        ("cache publisher", cache.publisher._outage),
        ("command server", cache.commands._outage),
    ]:
        said = [w for w in warnings if w.startswith(f"{component} {engine_id}: Redis unavailable")]
        assert len(said) == 1, f"{component} should warn once per outage, said {said}"
        assert outage.failures >= 1 and not outage.down
    assert cache.commands._outage.failures >= 2
