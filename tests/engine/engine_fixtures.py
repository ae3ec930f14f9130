"""Shared set-up for engine tests: a real SQLite store, a SimulatedExchange on the sandbox
venue with synthetic liquidity, and an engine wired to both."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from simulated_exchange import DEFAULT_API_KEY, SimulatedExchange

from kraken_tui.clock import WallClock
from kraken_tui.domain import Side
from kraken_tui.engine.engine import EngineConfig, TradingEngine
from kraken_tui.engine.order_manager import LookupPolicy
from kraken_tui.engine.risk import RiskLimits
from kraken_tui.settings import StrategyConfig
from kraken_tui.store import Store

D = Decimal
API_KEY = DEFAULT_API_KEY
FAST_LOOKUP = LookupPolicy(absent_checks=3, backoff_s=0.01, max_backoff_s=0.05)
LIMITS = RiskLimits(
    max_order_notional=D("20000"),
    max_position_per_symbol=D("100000"),
    max_position_per_strategy=D("50000"),
    max_open_orders=50,
    price_band_pct=D("5"),
    max_orders_per_minute=1000,
)


def seed_liquidity(exchange: SimulatedExchange, mid: int = 50_000, levels: int = 5) -> None:
    """Synthetic quotes around `mid` on BTC/USD: bids mid-10, mid-20, ...; asks mid+10, ..."""
    for n in range(1, levels + 1):
        exchange.venue.place_synthetic("BTC/USD", Side.BUY, D(mid - 10 * n), D("1"))
        exchange.venue.place_synthetic("BTC/USD", Side.SELL, D(mid + 10 * n), D("1"))


def make_exchange(state_path: Path | None = None) -> SimulatedExchange:
    exchange = SimulatedExchange.create(WallClock(), state_path=state_path)
    seed_liquidity(exchange)
    return exchange


def config(*strategies: StrategyConfig, **overrides: object) -> EngineConfig:
    values: dict[str, object] = {
        "symbols": ("BTC/USD",),
        "strategies": strategies,
        "limits": LIMITS,
        "lookup": FAST_LOOKUP,
        "housekeeping_s": 0.02,
        "dead_man_timeout_s": 60,
    }
    values.update(overrides)
    return EngineConfig(**values)  # type: ignore[arg-type]


def strategy(name: str, cls: str, module: str, **params: object) -> StrategyConfig:
    return StrategyConfig(name=name, class_name=f"{module}:{cls}", symbol="BTC/USD", params=params)  # type: ignore[call-arg]


async def open_store(tmp_path: Path) -> Store:
    return await Store.open(tmp_path / "engine.sqlite3")


async def started(
    exchange: SimulatedExchange, store: Store, engine_config: EngineConfig
) -> TradingEngine:
    engine = TradingEngine(exchange, store, engine_config)
    await engine.start()
    return engine


async def eventually(check: Callable[[], bool], within: float = 2.0) -> None:
    """Wait until `check()` holds, letting the engine run meanwhile."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def venue_open_orders(exchange: SimulatedExchange) -> list[object]:
    return list(exchange.venue.open_orders(API_KEY))
