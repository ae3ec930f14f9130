"""The engine's periodic jobs: equity snapshots, saved strategy state, balance checks and
order sync, each on its own interval.

Intervals are measured with `time.monotonic()`, not the injected clock: they pace real work
(store writes, REST calls) between real `asyncio.sleep`s, and a virtual clock that only
moves when a test says so would hold them back forever. Every timestamp written anywhere
still comes from the injected clock.
"""

from __future__ import annotations

import time
from decimal import Decimal

from kraken_tui.clock import Clock
from kraken_tui.engine.portfolio import BalanceMismatch, PortfolioManager
from kraken_tui.engine.positions import PositionManager
from kraken_tui.engine.startup import DAY_START_KEY
from kraken_tui.engine.strategy_manager import StrategyManager
from kraken_tui.exchange.protocol import Exchange
from kraken_tui.store import EquitySnapshot, Store


class Interval:
    """Due once every `seconds` of real time, counted from its creation."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._last = time.monotonic()

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self._seconds:
            return False
        self._last = now
        return True


def queue_equity_snapshot(portfolio: PortfolioManager, store: Store, clock: Clock) -> None:
    """Record equity, peak and drawdown, and the day's starting PnL (daily loss limits
    survive a restart)."""
    snap = portfolio.snapshot
    if snap.peak_equity <= 0:
        return
    now = clock.now()
    store.equity.queue(EquitySnapshot(now, snap.equity, snap.peak_equity, snap.drawdown_pct))
    day, start_pnl = portfolio.day_start
    if day is not None:
        store.kv.queue_set(DAY_START_KEY, {"day": day.isoformat(), "pnl": str(start_pnl)}, now)


async def persist_strategy_states(strategies: StrategyManager, store: Store, clock: Clock) -> None:
    for name, state in strategies.dirty_states():
        await store.strategies.save_state_json(name, state, clock.now())


async def check_balances(
    exchange: Exchange,
    baseline: dict[str, Decimal],
    positions: PositionManager,
    portfolio: PortfolioManager,
    strategies: StrategyManager,
) -> list[BalanceMismatch]:
    """Compare the exchange's balances with baseline plus fills (unconfirmed: a fill may be
    in flight) and hand strategies their new available balances; returns the mismatches."""
    balances = await exchange.balances()
    mismatches = portfolio.compare(
        baseline, positions.asset_flows(), balances, positions.settlements()
    )
    portfolio.report(mismatches, confirmed=False)
    portfolio.set_balances(balances)
    strategies.update_balances({a: b.available for a, b in balances.items()})
    return mismatches
