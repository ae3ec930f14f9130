"""The real TradingEngine behind Redis: a sandbox venue with a moving synthetic market, a real
SQLite store, built-in strategies; the remote copy converges to the engine's own snapshot and
remote commands act on the engine."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cache_fixtures import wait_until
from simulated_exchange import SimulatedExchange

from kraken_tui.cache.remote import RemoteEngine
from kraken_tui.cache.service import EngineCache
from kraken_tui.clock import WallClock
from kraken_tui.domain import StrategyState, TradingState
from kraken_tui.engine.engine import EngineConfig, TradingEngine
from kraken_tui.logging import LogBuffer
from kraken_tui.sandbox.market import MarketSimulator
from kraken_tui.settings import RedisSettings, StrategyConfig
from kraken_tui.store import Store


@pytest.fixture
async def trading_engine(tmp_path: Path) -> AsyncIterator[tuple[TradingEngine, MarketSimulator]]:
    exchange = SimulatedExchange.create(WallClock())
    market = MarketSimulator(exchange.venue, seed=5, rate=500)
    market.step(time.time())
    store = await Store.open(tmp_path / "engine.sqlite3")
    config = EngineConfig(
        symbols=("BTC/USD", "ETH/USD"),
        strategies=(
            StrategyConfig(name="sma_btc", class_name="sma_cross", symbol="BTC/USD"),
            StrategyConfig(name="mm_eth", class_name="market_maker", symbol="ETH/USD"),
        ),
    )
    engine = TradingEngine(exchange, store, config, log_buffer=LogBuffer(1000))
    await engine.start()
    yield engine, market
    await engine.stop(cancel_open_orders=True)
    await store.close()


@contextlib.asynccontextmanager
async def moving(market: MarketSimulator) -> AsyncIterator[None]:
    async def pump() -> None:
        while True:
            await asyncio.sleep(0.01)
            market.step(time.time())

    task = asyncio.create_task(pump())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_remote_copy_of_a_trading_engine_converges_to_its_snapshot(
    trading_engine: tuple[TradingEngine, MarketSimulator], redis_settings: RedisSettings
) -> None:
    engine, market = trading_engine
    cache = EngineCache(engine, redis_settings)
    await cache.start()
    try:
        async with RemoteEngine(redis_settings) as remote:
            assert await remote.wait_ready(5)
            async with moving(market):
                before = market.book_events
                await asyncio.sleep(1.0)
                assert market.book_events - before > 200
            await wait_until(lambda: remote.snapshot() == engine.snapshot(), 5)
            local = engine.snapshot()
            assert remote.snapshot().books["BTC/USD"] == local.books["BTC/USD"]
            assert remote.snapshot().portfolio == local.portfolio
            assert {s.name for s in remote.snapshot().strategies} == {"sma_btc", "mm_eth"}
    finally:
        await cache.stop()


async def test_remote_commands_steer_a_trading_engine_under_market_load(
    trading_engine: tuple[TradingEngine, MarketSimulator], redis_settings: RedisSettings
) -> None:
    engine, market = trading_engine
    cache = EngineCache(engine, redis_settings)
    await cache.start()
    try:
        async with RemoteEngine(redis_settings) as remote, moving(market):
            assert await remote.wait_ready(5)
            paused = await remote.pause("sma_btc")
            assert paused.ok, paused.message
            host = engine.strategies.host("sma_btc")
            assert host is not None and host.state is StrategyState.PAUSED
            await wait_until(
                lambda: any(
                    s.name == "sma_btc" and s.state is StrategyState.PAUSED
                    for s in remote.snapshot().strategies
                )
            )
            killed = await remote.kill_switch("drill")
            assert killed.ok, killed.message
            assert engine.risk.trading_state is TradingState.HALTED
            await wait_until(lambda: remote.snapshot().risk.trading_state is TradingState.HALTED)
            assert engine.orders.open_orders == ()
            reset = await remote.reset_kill_switch()
            assert reset.ok and engine.risk.trading_state is TradingState.ACTIVE
    finally:
        await cache.stop()
