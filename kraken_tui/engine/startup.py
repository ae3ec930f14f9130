"""Start-up steps that bring the engine back to where the last run left it, before it trades.

Order matters and `TradingEngine._start` keeps it: a HALTED state is restored first (no
order may leave before reconciliation), then positions are rebuilt from every stored fill,
balances are checked against the recorded baseline, and strategies come back with their
saved state. Each step reads the store and the exchange; none of them trades.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from loguru import logger

from kraken_tui.domain import Balance, Execution, Instrument, TradingState
from kraken_tui.engine.order_manager import OrderManager
from kraken_tui.engine.portfolio import BalanceMismatch, PortfolioManager
from kraken_tui.engine.positions import PositionManager
from kraken_tui.engine.risk import RiskManager
from kraken_tui.engine.strategy_manager import SavedStrategy, StrategyManager
from kraken_tui.exchange.protocol import Exchange
from kraken_tui.settings import StrategyConfig
from kraken_tui.store import Store

TRADING_STATE_KEY = "risk.trading_state"
BASELINE_KEY = "portfolio.baseline"
DAY_START_KEY = "portfolio.day_start"
EQUITY_SCOPE_KEY = "portfolio.equity_scope"


async def restore_trading_state(store: Store, risk: RiskManager, exchange: Exchange) -> None:
    """A kill switch outlives a restart: HALTED stays HALTED until someone resets it."""
    saved = await store.kv.get(TRADING_STATE_KEY)
    if saved and saved.get("state") == TradingState.HALTED.value:
        risk.set_trading_state(TradingState.HALTED, saved.get("reason", "restored"))
        exchange.halt_order_entry(saved.get("reason", "restored"))
        logger.critical("trading stays HALTED from the previous run: {}", saved.get("reason"))


async def rebuild_positions(store: Store, orders: OrderManager, positions: PositionManager) -> None:
    """Positions are the fold of every stored fill, attributed through its order."""
    owners: dict[str, str | None] = {}
    for execution in await store.executions.since(None):
        key = execution.cl_ord_id or execution.order_id
        if key not in owners:
            owners[key] = await _stored_strategy_of(store, orders, execution)
        positions.apply(execution, owners[key])


async def _stored_strategy_of(
    store: Store, orders: OrderManager, execution: Execution
) -> str | None:
    known = orders.strategy_of(execution)
    if known is not None:
        return known
    order = None
    if execution.cl_ord_id:
        order = await store.orders.by_cl_ord_id(execution.cl_ord_id)
    if order is None:
        order = await store.orders.by_order_id(execution.order_id)
    return order.strategy if order is not None else None


async def check_balances_at_start(
    exchange: Exchange,
    store: Store,
    positions: PositionManager,
    portfolio: PortfolioManager,
    now: datetime,
) -> tuple[dict[str, Balance], dict[str, Decimal], list[BalanceMismatch]]:
    """Compare the exchange's balances with the recorded baseline plus every fill since (the
    first run records the baseline), and restore peak equity and the day's start. Returns
    the balances, the baseline and the assets that do not add up."""
    balances = await exchange.balances()
    flows = positions.asset_flows()
    saved = await store.kv.get(BASELINE_KEY)
    mismatches: list[BalanceMismatch] = []
    if saved is None:
        baseline = portfolio.baseline_for(balances, flows)
        await store.kv.set(BASELINE_KEY, {k: str(v) for k, v in baseline.items()}, now)
        logger.info("portfolio baseline recorded for {} assets", len(baseline))
    else:
        baseline = {k: Decimal(v) for k, v in saved.items()}
        mismatches = portfolio.compare(baseline, flows, balances, positions.settlements())
        portfolio.report(mismatches, confirmed=True)
    portfolio.set_balances(balances)
    latest = await store.equity.latest()
    day_start = await store.kv.get(DAY_START_KEY)
    scope = sorted(portfolio.valued_assets)
    peak = latest.peak if latest is not None else Decimal(0)
    if peak and await store.kv.get(EQUITY_SCOPE_KEY) != scope:
        # The peak was measured over other assets (the traded symbols changed): comparing
        # it with today's equity would report a drawdown that never happened.
        logger.warning("equity now counts {}: the peak equity starts afresh", scope)
        peak = Decimal(0)
    await store.kv.set(EQUITY_SCOPE_KEY, scope, now)
    portfolio.restore(
        peak,
        date.fromisoformat(day_start["day"]) if day_start else None,
        Decimal(day_start["pnl"]) if day_start else Decimal(0),
    )
    return balances, baseline, mismatches


async def load_strategies(
    store: Store,
    strategies: StrategyManager,
    configs: Sequence[StrategyConfig],
    instruments: Mapping[str, Instrument],
    now: datetime,
) -> None:
    """Load the configured strategies with their saved state and register them in the store."""
    saved = {
        record.name: SavedStrategy(record.state, record.state_json)
        for record in await store.strategies.all()
    }
    strategies.load(configs, instruments, saved)
    for host in strategies.hosts:
        config = next(c for c in configs if c.name == host.name)
        await store.strategies.register(host.name, host.class_name, config.params, host.state, now)
