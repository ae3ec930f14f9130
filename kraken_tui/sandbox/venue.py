"""SandboxVenue: the synchronous core of the sandbox exchange (accounts, orders, matching, data).

Everything here is plain synchronous Python driven by the server's calls: one venue call is
one atomic step (validate, match, emit events, persist in one SQLite transaction), so the
aiohttp server can call it from its event loop without locks and tests can drive it directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from kraken_tui.domain.enums import Side, TimeInForce
from kraken_tui.sandbox.errors import VenueError
from kraken_tui.sandbox.events import (
    BalanceChanged,
    BookLevelChanged,
    ExecType,
    ExecutionEvent,
    Listener,
    TradePrinted,
    VenueEvent,
)
from kraken_tui.sandbox.fees import FeeSchedule
from kraken_tui.sandbox.pairs import PairRegistry
from kraken_tui.sandbox.records import (
    AddOrderResult,
    AmendResult,
    BalanceEntry,
    BookLevels,
    CancelResult,
    DeadManSwitch,
    FillView,
    OhlcBar,
    OrderState,
    OrderView,
    Page,
    PublicTrade,
    SpreadSample,
    TickerStats,
    TradeBalance,
    VenueOrderType,
)

__all__ = [
    "DEFAULT_FUNDING",
    "MARKET_MAKER_KEY",
    "AddOrderResult",
    "AmendResult",
    "BalanceChanged",
    "BalanceEntry",
    "BookLevelChanged",
    "BookLevels",
    "CancelResult",
    "DeadManSwitch",
    "ExecType",
    "ExecutionEvent",
    "FeeSchedule",
    "FillView",
    "Listener",
    "OhlcBar",
    "OrderState",
    "OrderView",
    "Page",
    "PairRegistry",
    "PublicTrade",
    "SandboxVenue",
    "SpreadSample",
    "TickerStats",
    "TradeBalance",
    "TradePrinted",
    "VenueError",
    "VenueEvent",
    "VenueOrderType",
]

DEFAULT_FUNDING: Mapping[str, Decimal] = {
    "ZUSD": Decimal(100_000),
    "XXBT": Decimal(2),
    "XETH": Decimal(30),
    "SOL": Decimal(500),
}
MARKET_MAKER_KEY = "__synthetic_liquidity__"
"""The account owning synthetic liquidity; it has no funding limits and pays no fees."""


class SandboxVenue:
    def __init__(
        self,
        pairs: PairRegistry | None = None,
        *,
        fees: FeeSchedule | None = None,
        state_path: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        default_funding: Mapping[str, Decimal] = DEFAULT_FUNDING,
    ) -> None:
        """`state_path` is the SQLite file; an existing file brings back its accounts, open
        orders (re-queued in their original priority), closed orders and fills."""

    # ---- plumbing -------------------------------------------------------------------
    @property
    def pairs(self) -> PairRegistry:
        raise NotImplementedError

    def now(self) -> float:
        raise NotImplementedError

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Register a listener for every event; returns the function that unregisters it."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # ---- accounts -------------------------------------------------------------------
    def open_account(self, api_key: str, funding: Mapping[str, Decimal] | None = None) -> bool:
        """Create a funded account (asset REST code -> amount); an existing one is left
        unchanged. Returns True when it was created."""
        raise NotImplementedError

    def has_account(self, api_key: str) -> bool:
        raise NotImplementedError

    def balances(self, api_key: str) -> dict[str, Decimal]:
        raise NotImplementedError

    def balances_ex(self, api_key: str) -> dict[str, BalanceEntry]:
        raise NotImplementedError

    def trade_balance(self, api_key: str, asset: str = "ZUSD") -> TradeBalance:
        raise NotImplementedError

    # ---- trading ---------------------------------------------------------------------
    def add_order(
        self,
        api_key: str,
        *,
        pair: str,
        side: Side | str,
        order_type: VenueOrderType | str,
        volume: Decimal | str,
        price: Decimal | str | None = None,
        trigger_price: Decimal | str | None = None,
        post_only: bool = False,
        time_in_force: TimeInForce | str = TimeInForce.GTC,
        userref: int | None = None,
        cl_ord_id: str | None = None,
        validate: bool = False,
    ) -> AddOrderResult: ...
    def amend_order(
        self,
        api_key: str,
        *,
        txid: str | None = None,
        cl_ord_id: str | None = None,
        order_qty: Decimal | str | None = None,
        limit_price: Decimal | str | None = None,
        trigger_price: Decimal | str | None = None,
        post_only: bool = False,
    ) -> AmendResult:
        """Change quantity (total, not remaining) and/or prices in place. The order keeps its
        queue priority when only its quantity goes down; any other change re-queues it."""
        raise NotImplementedError

    def cancel_order(
        self,
        api_key: str,
        *,
        txid: str | None = None,
        userref: int | None = None,
        cl_ord_id: str | None = None,
    ) -> CancelResult:
        """Cancel by txid, by cl_ord_id, or every open order with `userref`;
        `EOrder:Unknown order` when nothing matches."""
        raise NotImplementedError

    def cancel_all(self, api_key: str) -> CancelResult:
        raise NotImplementedError

    def cancel_all_orders_after(self, api_key: str, timeout_s: int) -> DeadManSwitch:
        """Arm (or with 0 disarm) the dead-man switch; `tick()` fires it when it expires."""
        raise NotImplementedError

    def tick(self, now: float | None = None) -> None:
        """Run time-driven work: expired dead-man switches cancel their accounts' orders."""
        raise NotImplementedError

    # ---- queries ---------------------------------------------------------------------
    def open_orders(
        self, api_key: str, *, userref: int | None = None, cl_ord_id: str | None = None
    ) -> list[OrderView]:
        raise NotImplementedError

    def closed_orders(
        self,
        api_key: str,
        *,
        start: float | str | None = None,
        end: float | str | None = None,
        offset: int = 0,
        limit: int = 50,
        userref: int | None = None,
        cl_ord_id: str | None = None,
    ) -> Page[OrderView]:
        raise NotImplementedError

    def query_orders(self, api_key: str, txids: Sequence[str]) -> list[OrderView]:
        raise NotImplementedError

    def trades_history(
        self,
        api_key: str,
        *,
        start: float | str | None = None,
        end: float | str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[FillView]:
        raise NotImplementedError

    def recent_fills(self, api_key: str, count: int = 50) -> list[FillView]:
        raise NotImplementedError

    # ---- market data -------------------------------------------------------------------
    def book(self, pair: str, depth: int = 10) -> BookLevels:
        """Aggregated top `depth` levels per side (cost O(depth)), e.g. for checksums."""
        raise NotImplementedError

    def ticker(self, pair: str) -> TickerStats:
        raise NotImplementedError

    def recent_trades(
        self, pair: str, *, since: float | None = None, count: int = 1000
    ) -> list[PublicTrade]:
        raise NotImplementedError

    def ohlc(self, pair: str, interval: int = 1, *, since: int | None = None) -> list[OhlcBar]:
        raise NotImplementedError

    def spread(self, pair: str, *, since: float | None = None) -> list[SpreadSample]:
        raise NotImplementedError

    # ---- synthetic liquidity (MarketSimulator, replay) ---------------------------------
    def place_synthetic(self, pair: str, side: Side, price: Decimal, qty: Decimal) -> str:
        raise NotImplementedError

    def cancel_synthetic(self, order_id: str) -> None:
        raise NotImplementedError

    def resize_synthetic(self, order_id: str, qty: Decimal) -> None:
        raise NotImplementedError

    def take_synthetic(
        self, pair: str, side: Side, qty: Decimal, limit_price: Decimal | None = None
    ) -> Decimal:
        raise NotImplementedError
