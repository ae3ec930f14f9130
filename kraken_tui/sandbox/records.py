"""Immutable views the venue hands out: orders, fills, balances and market statistics.

The venue keeps mutable internal state; callers (the server, tests) only ever see these
frozen copies, so a response being serialized can never observe a half-applied match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

from kraken_tui.domain.enums import Side, TimeInForce

T = TypeVar("T")


class OrderState(StrEnum):
    """Kraken's REST order `status` vocabulary."""

    PENDING = "pending"
    OPEN = "open"
    CLOSED = "closed"
    CANCELED = "canceled"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in (OrderState.PENDING, OrderState.OPEN)


class VenueOrderType(StrEnum):
    """Kraken's REST `ordertype` values the sandbox matches."""

    MARKET = "market"
    LIMIT = "limit"
    STOP_LOSS = "stop-loss"
    TAKE_PROFIT = "take-profit"
    STOP_LOSS_LIMIT = "stop-loss-limit"
    TAKE_PROFIT_LIMIT = "take-profit-limit"

    @property
    def is_triggered(self) -> bool:
        return self not in (VenueOrderType.MARKET, VenueOrderType.LIMIT)

    @property
    def has_limit_price(self) -> bool:
        return self in (
            VenueOrderType.LIMIT,
            VenueOrderType.STOP_LOSS_LIMIT,
            VenueOrderType.TAKE_PROFIT_LIMIT,
        )


@dataclass(frozen=True, slots=True)
class OrderView:
    """One order as REST OpenOrders/ClosedOrders/QueryOrders and WS `executions` describe it.

    `price` is the limit price (None for market and plain stop orders); `trigger_price` is the
    stop/take-profit trigger (Kraken's REST `price` for stop-loss/take-profit, `price2` being
    the limit for the -limit variants). `avg_price` is 0 until something filled.

    A market buy sized in quote (Kraken's `viqc`, `volume_in_quote`) has `volume` = the quote
    amount it may spend before fees, `vol_exec` = the base it bought and `cost` = the quote it
    spent; it has no base `remaining`, since its base size was never known up front.

    `fee_in_base` is Kraken's fee currency preference (`fcib`; otherwise `fciq`). `fee` is
    always the quote-currency value of the fees, as REST order entries report it."""

    txid: str
    api_key: str
    symbol: str
    rest_pair: str
    side: Side
    order_type: VenueOrderType
    volume: Decimal
    vol_exec: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    cost: Decimal
    fee: Decimal
    avg_price: Decimal
    status: OrderState
    opentm: float
    closetm: float | None
    time_in_force: TimeInForce
    post_only: bool
    userref: int | None
    cl_ord_id: str | None
    reason: str | None
    triggered: bool
    lastupdated: float
    volume_in_quote: bool = False
    fee_in_base: bool = False

    @property
    def remaining(self) -> Decimal:
        if self.volume_in_quote:
            return Decimal(0)
        return self.volume - self.vol_exec

    @property
    def ws_status(self) -> str:
        """Kraken WS v2 `order_status` for this order."""
        if self.status is OrderState.PENDING:
            return "pending_new"
        if self.status is OrderState.OPEN:
            return "partially_filled" if self.vol_exec > 0 else "new"
        if self.status is OrderState.CLOSED:
            return "filled"
        return self.status.value


@dataclass(frozen=True, slots=True)
class FillView:
    """One of an account's fills, as REST TradesHistory lists it (`trade_id` = Kraken's
    `TXXXXX-XXXXX-XXXXXX` key; `public_trade_id` = the pair's integer trade id). `fee` is
    what was charged, in `fee_asset` (the base asset when the order preferred `fcib`)."""

    trade_id: str
    public_trade_id: int
    order_txid: str
    position_txid: str
    api_key: str
    symbol: str
    rest_pair: str
    time: float
    side: Side
    order_type: VenueOrderType
    price: Decimal
    cost: Decimal
    fee: Decimal
    fee_asset: str
    vol: Decimal
    maker: bool
    cl_ord_id: str | None
    userref: int | None

    @property
    def margin(self) -> Decimal:
        return Decimal(0)


@dataclass(frozen=True, slots=True)
class BalanceEntry:
    """REST BalanceEx row: `balance` is the total, `hold_trade` what open orders reserve."""

    asset: str
    balance: Decimal
    hold_trade: Decimal

    @property
    def available(self) -> Decimal:
        return self.balance - self.hold_trade


@dataclass(frozen=True, slots=True)
class TradeBalance:
    """REST TradeBalance, valued in one asset. Spot-only sandbox: no margin, so m/n/c/v are 0
    and free margin equals equity."""

    asset: str
    equivalent_balance: Decimal
    trade_balance: Decimal
    margin: Decimal
    unrealized_pnl: Decimal
    cost_basis: Decimal
    floating_valuation: Decimal
    equity: Decimal
    free_margin: Decimal
    unexecuted_value: Decimal


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a Kraken list endpoint: `count` is the total matching, `items` this page."""

    items: Sequence[T]
    count: int


@dataclass(frozen=True, slots=True)
class AddOrderResult:
    txid: str | None
    description: str
    cl_ord_id: str | None
    userref: int | None


@dataclass(frozen=True, slots=True)
class CancelResult:
    count: int
    txids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AmendResult:
    amend_id: str
    txid: str


@dataclass(frozen=True, slots=True)
class DeadManSwitch:
    """`trigger_time` is None when the switch is disabled (timeout 0)."""

    current_time: float
    trigger_time: float | None


@dataclass(frozen=True, slots=True)
class BookLevels:
    """Aggregated top of one book, best price first on each side."""

    symbol: str
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    timestamp: float


@dataclass(frozen=True, slots=True)
class TickerStats:
    """WS v2 `ticker` fields over the last 24 h (REST Ticker derives from the same numbers);
    `open` is the first traded price of that window, `trades` its number of trades."""

    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    last: Decimal
    last_qty: Decimal
    volume: Decimal
    vwap: Decimal
    low: Decimal
    high: Decimal
    open: Decimal
    change: Decimal
    change_pct: Decimal
    trades: int
    volume_today: Decimal
    vwap_today: Decimal
    low_today: Decimal
    high_today: Decimal
    trades_today: int
    open_today: Decimal


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """One printed trade; `side` is the taker's side, `ord_type` the taker's order type
    (`market` or `limit`), `timestamp` unix seconds."""

    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    ord_type: str
    trade_id: int
    timestamp: float


@dataclass(frozen=True, slots=True)
class OhlcBar:
    """One candle; `interval_begin` is unix seconds, `interval` minutes; `vwap` is 0 and the
    prices are the previous close when no trade happened in the bar."""

    symbol: str
    interval: int
    interval_begin: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    vwap: Decimal
    volume: Decimal
    trades: int


@dataclass(frozen=True, slots=True)
class SpreadSample:
    time: float
    bid: Decimal
    ask: Decimal
    bid_qty: Decimal
    ask_qty: Decimal
