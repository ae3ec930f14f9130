"""Typed events the venue publishes synchronously, in the order things happen.

The server turns them into WS v2 `book`, `trade`, `executions` and `balances` messages.
Book events carry the new aggregated quantity of one level (0 = level gone), exactly the
unit a Kraken book update carries, so applying them in order reproduces the venue's book.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from kraken_tui.domain.enums import Liquidity, Side
from kraken_tui.sandbox.ledger_history import LedgerEntry
from kraken_tui.sandbox.records import OrderView


class ExecType(StrEnum):
    """Kraken WS v2 `executions` `exec_type` values (`status`: a stop order triggered)."""

    PENDING_NEW = "pending_new"
    NEW = "new"
    TRADE = "trade"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    AMENDED = "amended"
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class BookLevelChanged:
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    timestamp: float


@dataclass(frozen=True, slots=True)
class TradePrinted:
    """A public trade; `side` is the taker's side."""

    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    ord_type: str
    trade_id: int
    timestamp: float


@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    """One order lifecycle step of one account, with the order's state after the step.

    For `trade` events `exec_id` is the fill's `TXXXXX-…` id, `last_qty`/`last_price`/
    `last_fee` describe that fill and `liquidity_ind` says whether the order was maker or
    taker. `order.vol_exec` is WS `cum_qty`, `order.avg_price` `avg_price`, `order.fee`
    `fees`. `reason` explains cancels/expiries in Kraken's words."""

    api_key: str
    exec_type: ExecType
    order: OrderView
    timestamp: float
    exec_id: str | None = None
    public_trade_id: int | None = None
    last_qty: Decimal | None = None
    last_price: Decimal | None = None
    last_fee: Decimal | None = None
    fee_asset: str | None = None
    liquidity_ind: Liquidity | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class BalanceChanged:
    """An account's asset after a change. `amount` is the signed change of the total (0 when
    only the hold moved), `asset` the REST code, `display` the WS v2 name; `ref_id` the
    fill or order that caused it."""

    api_key: str
    asset: str
    display: str
    amount: Decimal
    balance: Decimal
    hold_trade: Decimal
    change_type: str
    ref_id: str
    timestamp: float


@dataclass(frozen=True, slots=True)
class LedgerPosted:
    """A ledger entry was posted to an account (WS v2 `balances` sends each as an update);
    `display` is the asset's WS v2 name."""

    entry: LedgerEntry
    display: str


VenueEvent = BookLevelChanged | TradePrinted | ExecutionEvent | BalanceChanged | LedgerPosted
Listener = Callable[[VenueEvent], None]
