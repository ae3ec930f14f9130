"""The default configuration (sma_cross on BTC/USD, market_maker on ETH/USD) trading on a live
synthetic market through the whole engine."""

import asyncio
import time
from decimal import Decimal

from engine_fixtures import open_store
from simulated_exchange import DEFAULT_API_KEY, SimulatedExchange

from kraken_tui.clock import WallClock
from kraken_tui.domain import StrategyState
from kraken_tui.engine.engine import EngineConfig, TradingEngine
from kraken_tui.sandbox.market import MarketSimulator
from kraken_tui.settings import Settings

D = Decimal


def test_config_from_settings_maps_risk_symbols_and_switch() -> None:
    settings = Settings()
    config = EngineConfig.from_settings(settings)
    assert set(config.symbols) >= {"BTC/USD", "ETH/USD"}
    assert [s.class_name for s in config.strategies] == ["sma_cross", "market_maker"]
    assert config.limits.max_order_notional == settings.risk.max_order_notional
    assert config.limits.max_orders_per_minute == settings.risk.max_orders_per_minute
    assert config.dead_man_timeout_s == settings.exchange.dead_man_switch_timeout_s
    assert config.cancel_on_shutdown is settings.risk.cancel_on_shutdown


async def test_default_strategies_trade_and_positions_match_balances(tmp_path) -> None:
    exchange = SimulatedExchange.create(WallClock())
    market = MarketSimulator(exchange.venue, seed=11, rate=400)
    market.step(time.time())
    store = await open_store(tmp_path)
    engine = TradingEngine(exchange, store, EngineConfig.from_settings(Settings()))
    await engine.start()
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            market.step(time.time())
        snapshot = engine.snapshot()
        states = {s.name: s for s in snapshot.strategies}
        assert all(s.state is StrategyState.RUNNING for s in states.values()), states
        assert states["market_maker_eth"].orders_sent >= 2
        assert exchange.calls["add_order"] >= 2
    finally:
        await engine.stop(cancel_open_orders=True)
    try:
        balances = exchange.venue.balances(DEFAULT_API_KEY)
        for symbol, code, funded in (("BTC/USD", "XXBT", D(2)), ("ETH/USD", "XETH", D(30))):
            assert balances[code] == funded + engine.positions.position(symbol).qty
        assert exchange.venue.open_orders(DEFAULT_API_KEY) == []
    finally:
        await store.close()
