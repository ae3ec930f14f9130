"""The one surface between the engine and an exchange.

`KrakenExchange` implements it on python-kraken-sdk for the sandbox, paper and live modes alike
(only URLs and credentials differ). Engine tests also run on an in-process implementation over
the sandbox venue (tests/support/simulated_exchange.py), held to this adapter by a shared
contract suite. The engine never sees SDK objects or wire dicts, only these types.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from kraken_tui.domain import (
    Balance,
    BookSnapshot,
    Candle,
    ConnectionState,
    Execution,
    Instrument,
    Order,
    OrderRequest,
    OrderStatus,
    Ticker,
    Trade,
)


class ExchangeError(Exception):
    """An error the exchange reported or the adapter detected. `kraken_error` is Kraken's own
    string (e.g. `EOrder:Insufficient funds`) when there is one, so it can be shown verbatim."""

    def __init__(self, message: str, kraken_error: str | None = None) -> None:
        super().__init__(message)
        self.kraken_error = kraken_error


class OrderRejected(ExchangeError):
    """The exchange refused the order; it certainly does not exist there."""


class OrderEntryHalted(OrderRejected):
    """Refused in the process because the kill switch halted order entry: certainly not sent."""


class UnknownOrder(ExchangeError):
    """The exchange does not know the order (already final, or never placed)."""


class OutcomeUnknown(ExchangeError):
    """The request may or may not have reached the exchange (timeout, dropped connection).
    Never guess: resolve by looking the order up by its `cl_ord_id`."""


@dataclass(frozen=True, slots=True)
class OrderAck:
    cl_ord_id: str
    order_id: str


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An order state change reported by the exchange (WS `executions` or REST reconciliation).
    Fills arrive separately as `Execution`s; `filled` here is cumulative."""

    order_id: str
    cl_ord_id: str | None
    symbol: str
    status: OrderStatus
    exec_type: str
    filled: Decimal
    ts: datetime
    avg_price: Decimal | None = None
    reason: str | None = None
    order: Order | None = None


@dataclass(frozen=True, slots=True)
class BookChanged:
    """Coalescable signal: the adapter's book for `symbol` changed; read it with `book()`."""

    symbol: str
    stale: bool = False


@dataclass(frozen=True, slots=True)
class TradeEvent:
    trade: Trade


@dataclass(frozen=True, slots=True)
class TickerEvent:
    ticker: Ticker


@dataclass(frozen=True, slots=True)
class CandleEvent:
    candle: Candle


@dataclass(frozen=True, slots=True)
class FillEvent:
    execution: Execution


@dataclass(frozen=True, slots=True)
class OrderEvent:
    update: OrderUpdate


@dataclass(frozen=True, slots=True)
class BalancesEvent:
    """Every known balance after a change, by display name (a consumer may replace its copy)."""

    balances: Mapping[str, Balance]


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    state: ConnectionState
    reason: str = ""
    latency_ms: float | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    status: ConnectionStatus


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """Client-side model of Kraken's counters, for the status bar and for throttling."""

    rest_counter: float = 0.0
    rest_max: float = 0.0
    trade_counters: Mapping[str, float] = field(default_factory=dict)
    trade_max: float = 0.0


ExchangeEvent = (
    BookChanged
    | TradeEvent
    | TickerEvent
    | CandleEvent
    | FillEvent
    | OrderEvent
    | BalancesEvent
    | ConnectionEvent
)
EventHandler = Callable[[ExchangeEvent], None]


@runtime_checkable
class Exchange(Protocol):
    """Async exchange surface. Event delivery: the adapter calls the handler set with
    `set_event_handler` synchronously from its own tasks; the handler must not block
    (the engine's EventBus enqueues and coalesces)."""

    @property
    def instruments(self) -> Mapping[str, Instrument]: ...

    @property
    def connection(self) -> ConnectionStatus: ...

    @property
    def rate_limits(self) -> RateLimitStatus: ...

    def set_event_handler(self, handler: EventHandler) -> None: ...

    async def connect(self) -> None:
        """Load instruments, open market-data and (when credentialed) private connections."""

    async def close(self) -> None: ...

    async def subscribe_market(
        self, symbols: Sequence[str], depth: int = 10, ohlc_interval: int = 1
    ) -> None: ...

    def book(self, symbol: str) -> BookSnapshot | None:
        """Latest verified book; `stale=True` while it is being resynchronised."""

    async def recent_candles(self, symbol: str, interval: int = 1) -> list[Candle]:
        """Closed candles before now, oldest first: warms strategies up at start so their
        indicators do not need live data to fill."""

    async def add_order(self, request: OrderRequest) -> OrderAck:
        """Raises OrderRejected (certainly not placed) or OutcomeUnknown (maybe placed)."""

    async def amend_order(
        self,
        *,
        cl_ord_id: str | None = None,
        order_id: str | None = None,
        volume: Decimal | None = None,
        price: Decimal | None = None,
    ) -> None: ...

    async def cancel_order(
        self, *, cl_ord_id: str | None = None, order_id: str | None = None
    ) -> bool:
        """True when cancelled; False (and a warning) when the exchange no longer knows it."""

    def halt_order_entry(self, reason: str) -> None:
        """Kill switch: from now on refuse every order entry and amend not yet on the wire,
        at once and locally (`OrderRejected` naming `reason`), including requests already
        waiting in the process; cancels still pass."""

    def resume_order_entry(self) -> None:
        """Undo `halt_order_entry` (the kill switch was reset)."""

    async def cancel_all(self) -> int:
        """Cancel every open order of the account; sent ahead of any queued request."""

    async def cancel_all_after(self, timeout_s: int) -> None:
        """Arm (or with 0 disarm) the exchange's dead man's switch."""

    async def open_orders(self) -> list[Order]: ...

    async def closed_orders(self, since: datetime | None = None) -> list[Order]: ...

    async def lookup_order(self, cl_ord_id: str) -> Order | None:
        """Find an order by our id in open, then closed orders; None when it never arrived."""

    async def executions_since(self, since: datetime | None = None) -> list[Execution]: ...

    async def balances(self) -> dict[str, Balance]:
        """Keyed by display asset name (BTC, USD, ...), not Kraken's legacy codes."""
