"""The two surfaces through which the UI, headless mode and remote control see and steer the
engine: immutable snapshots, and commands. Both a local engine and a remote one (over Redis)
implement `EngineApi`, so every panel and key works the same in both.

Snapshot discipline: every field of `EngineSnapshot` is an immutable value that the engine
*replaces* when it changes and never mutates. A widget keeps the object it last drew and
redraws only when `new is not old` — an O(1) change test at the UI's frame rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from kraken_tui.alerts.alert import AlertLevel as AlertLevel  # part of this API: alerts
from kraken_tui.alerts.alert import AlertsSnapshot
from kraken_tui.domain import (
    BookSnapshot,
    Candle,
    ComponentState,
    Execution,
    Instrument,
    Mode,
    Order,
    OrderType,
    Position,
    Side,
    StrategyState,
    Ticker,
    TimeInForce,
    TradingState,
)
from kraken_tui.exchange.protocol import ConnectionStatus, RateLimitStatus
from kraken_tui.logging import LogLine as LogLine  # part of this API: log_lines_since


@dataclass(frozen=True, slots=True)
class StrategySnapshot:
    name: str
    symbol: str
    class_name: str
    state: StrategyState
    last_signal: str = ""
    position: Decimal = Decimal(0)
    pnl: Decimal = Decimal(0)
    orders_sent: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """Outcome of a pre-trade check. `rule` names the rule that denied (e.g. `max_order_notional`)
    and `reason` carries its numbers, so a denial can be shown as is."""

    allowed: bool
    rule: str | None = None
    reason: str = ""

    @classmethod
    def allow(cls) -> RiskDecision:
        return cls(True)

    @classmethod
    def deny(cls, rule: str, reason: str) -> RiskDecision:
        return cls(False, rule, reason)


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    trading_state: TradingState = TradingState.ACTIVE
    reason: str = ""
    daily_pnl: Decimal = Decimal(0)
    drawdown_pct: Decimal = Decimal(0)
    last_denial: str | None = None
    denials: int = 0


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    quote_ccy: str = "USD"
    equity: Decimal = Decimal(0)
    peak_equity: Decimal = Decimal(0)
    drawdown_pct: Decimal = Decimal(0)
    daily_pnl: Decimal = Decimal(0)
    balances: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    mode: Mode
    state: ComponentState
    ts: datetime
    live_host_override: str | None = None
    """The non-Kraken host a live run trades on under the deliberate override; the status
    bar shows it beside the LIVE label so nobody takes it for Kraken."""
    symbols: tuple[str, ...] = ()
    instruments: Mapping[str, Instrument] = field(default_factory=dict)
    books: Mapping[str, BookSnapshot] = field(default_factory=dict)
    tickers: Mapping[str, Ticker] = field(default_factory=dict)
    candles: Mapping[str, tuple[Candle, ...]] = field(default_factory=dict)
    positions: tuple[Position, ...] = ()
    """Account positions (`strategy is None`) and each strategy's share of them."""
    open_orders: tuple[Order, ...] = ()
    recent_fills: tuple[Execution, ...] = ()
    strategies: tuple[StrategySnapshot, ...] = ()
    risk: RiskSnapshot = field(default_factory=RiskSnapshot)
    portfolio: PortfolioSnapshot = field(default_factory=PortfolioSnapshot)
    connection: ConnectionStatus | None = None
    rate_limits: RateLimitStatus = field(default_factory=RateLimitStatus)
    alerts: AlertsSnapshot = field(default_factory=AlertsSnapshot)
    """Recent alerts and their delivery counters (sent, failed, dropped)."""


@dataclass(frozen=True, slots=True)
class ManualOrder:
    """An order typed by a person in the order ticket (or sent by `ctl`). A market buy may be
    sized in the quote currency instead of base ("spend 500 USD", Kraken's `viqc`), as a
    strategy's `buy_quote` is: `quote_volume` set and `volume` zero."""

    symbol: str
    side: Side
    order_type: OrderType
    volume: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    quote_volume: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    message: str
    detail: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class EngineApi(Protocol):
    def snapshot(self) -> EngineSnapshot: ...

    def log_lines_since(self, seq: int, limit: int = 500) -> list[LogLine]:
        """Log lines with a sequence number above `seq`, oldest first: the UI pulls them in
        batches on its timer instead of receiving one message per line."""

    def preview_order(self, order: ManualOrder) -> RiskDecision:
        """The risk decision the order would get now, for the ticket's live validation."""

    async def pause(self, strategy: str) -> CommandResult: ...

    async def resume(self, strategy: str) -> CommandResult: ...

    async def pause_all(self) -> CommandResult: ...

    async def resume_all(self) -> CommandResult: ...

    async def kill_switch(self, reason: str = "manual") -> CommandResult: ...

    async def reset_kill_switch(self) -> CommandResult: ...

    def preview_amend(
        self, cl_ord_id: str, price: Decimal | None = None, volume: Decimal | None = None
    ) -> RiskDecision:
        """The risk decision amending the open order would get now, judged as the order it
        would become (the ticket's preview of an amend)."""

    async def submit_manual_order(self, order: ManualOrder) -> CommandResult: ...

    async def amend_order(
        self, cl_ord_id: str, price: Decimal | None = None, volume: Decimal | None = None
    ) -> CommandResult:
        """Change an open order's limit price and/or total volume in place, after the same
        risk check a strategy's amend gets; the order keeps its place in the queue where
        the exchange allows it."""

    async def cancel_order(self, cl_ord_id: str) -> CommandResult: ...

    async def cancel_all(self) -> CommandResult: ...
