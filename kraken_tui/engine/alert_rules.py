"""`AlertRules`: when the engine raises which alert, with the text the operator reads, and the
little state that keeps each from firing twice for one cause (the trading state last alerted,
how long the exchange connection has been down, which balances mismatched last time).

The engine and its operator commands call these at the moment something happens; the alert
board decides who hears of it and how often.
"""

from __future__ import annotations

import time

from kraken_tui.alerts.alert import AlertKind, AlertLevel
from kraken_tui.alerts.board import AlertBoard
from kraken_tui.domain import ConnectionState, TradingState
from kraken_tui.engine.order_manager import OrderManager
from kraken_tui.engine.portfolio import BalanceMismatch
from kraken_tui.engine.risk import RiskManager
from kraken_tui.engine.state import EngineState
from kraken_tui.engine.strategy_manager import StrategyHost
from kraken_tui.exchange.protocol import ConnectionStatus


class AlertRules:
    def __init__(
        self,
        board: AlertBoard,
        state: EngineState,
        risk: RiskManager,
        orders: OrderManager,
        *,
        dead_man_timeout_s: int,
        connection_lost_after_s: float,
    ) -> None:
        self._board = board
        self._state = state
        self._risk = risk
        self._orders = orders
        self._dead_man_timeout_s = dead_man_timeout_s
        self._connection_lost_after_s = connection_lost_after_s
        self._alerted_trading_state = TradingState.ACTIVE
        self._connection_lost_at: float | None = None
        """Monotonic time the exchange connection went down, while it is down."""
        self._connection_loss_alerted = False
        self._balance_suspects: frozenset[str] = frozenset()

    def trading_state(self) -> None:
        """HALTED or REDUCING set by anyone but the kill switch (which raises its own alert):
        a loss limit, or a HALTED state restored from the previous run."""
        risk = self._risk.snapshot
        state = risk.trading_state
        if state is self._alerted_trading_state:
            return
        self._alerted_trading_state = state
        if state is TradingState.ACTIVE:
            return
        portfolio = self._state.portfolio.snapshot
        level = AlertLevel.CRITICAL if state is TradingState.HALTED else AlertLevel.WARNING
        self._board.raise_alert(
            level,
            AlertKind.TRADING_STATE,
            f"Trading {state.value.upper()}: {risk.reason}",
            f"Daily PnL {portfolio.daily_pnl:.2f} {portfolio.quote_ccy}, drawdown "
            f"{portfolio.drawdown_pct:.2f} %, equity {portfolio.equity:.2f} "
            f"{portfolio.quote_ccy}",
            subject=state.value,
        )

    def trading_state_set_by_operator(self, state: TradingState) -> None:
        """The kill switch (which alerts on its own) or its reset set `state`: nothing more to
        say about it."""
        self._alerted_trading_state = state

    def kill_switch_fired(self, reason: str, cancelled: int, paused: int) -> None:
        self._board.raise_alert(
            AlertLevel.CRITICAL,
            AlertKind.KILL_SWITCH,
            f"Kill switch fired: {reason}",
            f"Trading HALTED: {cancelled} orders cancelled, {paused} strategies paused. "
            "Reset the kill switch to trade again.",
        )

    def kill_switch_cancel_failed(self, reason: str, error: BaseException, paused: int) -> None:
        self._board.raise_alert(
            AlertLevel.CRITICAL,
            AlertKind.KILL_SWITCH,
            f"Kill switch fired: {reason}; cancel-all FAILED",
            f"Trading HALTED. Cancel-all failed ({error}): orders may still be open. "
            f"{paused} strategies paused.",
        )

    def track_connection(self, status: ConnectionStatus) -> None:
        up = status.state in (ConnectionState.CONNECTED, ConnectionState.DEGRADED)
        if not up:
            if self._connection_lost_at is None:
                self._connection_lost_at = time.monotonic()
            return
        lost_at, self._connection_lost_at = self._connection_lost_at, None
        if lost_at is not None and self._connection_loss_alerted:
            self._connection_loss_alerted = False
            self._board.raise_alert(
                AlertLevel.WARNING,
                AlertKind.CONNECTION_BACK,
                f"Exchange connection back after {time.monotonic() - lost_at:.0f} s",
                f"{status.state}"
                + (f", latency {status.latency_ms:.0f} ms" if status.latency_ms else ""),
            )

    def long_connection_loss(self) -> None:
        """Housekeeping: a connection down longer than `connection_lost_after_s`, once."""
        lost_at = self._connection_lost_at
        status = self._state.connection
        if lost_at is None or self._connection_loss_alerted or status is None:
            return
        down_s = time.monotonic() - lost_at
        if down_s < self._connection_lost_after_s:
            return
        self._connection_loss_alerted = True
        self._board.raise_alert(
            AlertLevel.ERROR,
            AlertKind.CONNECTION_LOST,
            f"Exchange connection lost for {down_s:.0f} s ({status.state})",
            f"{status.reason or 'no reason given'}; {len(self._orders.open_orders)} orders open",
        )

    def strategy_error(self, host: StrategyHost) -> None:
        error = (host.error or "unknown error").strip().splitlines()
        self._board.raise_alert(
            AlertLevel.ERROR,
            AlertKind.STRATEGY_ERROR,
            f"Strategy {host.name} ({host.symbol}) stopped with an error",
            f"{error[0] if error else ''}; {host.orders_sent} orders sent, "
            f"{len(self._orders.open_orders_of(host.name))} still open",
            subject=host.name,
        )

    def dead_man_refresh_failed(self, error: str, failures_in_a_row: int) -> None:
        timeout = self._dead_man_timeout_s
        self._board.raise_alert(
            AlertLevel.ERROR,
            AlertKind.DEAD_MAN_SWITCH,
            f"Dead man's switch refresh failed ({failures_in_a_row} in a row)",
            f"{error}. Kraken cancels every open order {timeout} s after the last good "
            f"refresh; {len(self._orders.open_orders)} orders open.",
        )

    def reconciliation_at_start(self, unresolved: int, summary: str) -> None:
        self._board.raise_alert(
            AlertLevel.ERROR,
            AlertKind.RECONCILIATION,
            f"Reconciliation at start: {unresolved} orders unknown to the exchange",
            f"{summary}; see the reconciliation log",
            subject="orders",
        )

    def order_states_caught_up(self, updates: int, fills: int) -> None:
        self._board.raise_alert(
            AlertLevel.WARNING,
            AlertKind.RECONCILIATION,
            f"Order states out of step with the exchange: {updates} caught up",
            f"The private feed missed {updates} order updates and {fills} fills; "
            "order sync brought them in from REST.",
            subject="order_sync",
        )

    def confirmed_mismatches(self, mismatches: list[BalanceMismatch]) -> None:
        """A periodic check is confirmed only when the asset also mismatched the check before
        (a fill in flight explains one), as `PortfolioManager.report` rules."""
        assets = frozenset(m.asset for m in mismatches)
        confirmed = [m for m in mismatches if m.asset in self._balance_suspects]
        self._balance_suspects = assets
        if confirmed:
            self.balance_mismatch("while running", confirmed)

    def balance_mismatch(self, when: str, mismatches: list[BalanceMismatch]) -> None:
        assets = ", ".join(m.asset for m in mismatches)
        self._board.raise_alert(
            AlertLevel.CRITICAL,
            AlertKind.RECONCILIATION,
            f"Balance mismatch {when}: {assets}",
            "; ".join(str(m) for m in mismatches),
            subject="balances",
        )
