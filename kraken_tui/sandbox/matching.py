"""Per-pair limit order book with price-time priority and aggregated price levels.

The book holds `LiveOrder`s (users' and synthetic liquidity alike) and reports every change
of a level's aggregated quantity to one callback, which is what a Kraken book feed carries.
Levels are kept in `SortedDict`s keyed by price (bids sorted descending), each level an
insertion-ordered dict of orders, so best-price access, top-N snapshots and in-place
removal are all cheap. Matching policy (fees, funds, self-trade) lives in the venue; the
book only knows prices, quantities and arrival order.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from sortedcontainers import SortedDict

from kraken_tui.domain.enums import Side, TimeInForce
from kraken_tui.domain.money import ZERO
from kraken_tui.sandbox.records import OrderState, OrderView, VenueOrderType


@dataclass(slots=True, eq=False)
class LiveOrder:
    """The venue's mutable record of one order; `seq` is its time priority in the book.

    With `volume_in_quote` (Kraken's `viqc`), `volume` is the quote amount to spend: such an
    order has no base `remaining`; the venue runs it to completion as soon as it arrives.
    `fee_in_base` says the fees are charged in the base asset (Kraken's `fcib`)."""

    txid: str
    api_key: str
    symbol: str
    rest_pair: str
    side: Side
    order_type: VenueOrderType
    volume: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    opentm: float
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    userref: int | None = None
    cl_ord_id: str | None = None
    vol_exec: Decimal = ZERO
    cost: Decimal = ZERO
    fee: Decimal = ZERO
    status: OrderState = OrderState.PENDING
    closetm: float | None = None
    reason: str | None = None
    triggered: bool = False
    seq: int = 0
    hold_asset: str = ""
    hold: Decimal = ZERO
    lastupdated: float = 0.0
    in_book: bool = False
    volume_in_quote: bool = False
    fee_in_base: bool = False

    @property
    def remaining(self) -> Decimal:
        if self.volume_in_quote:
            return ZERO
        return self.volume - self.vol_exec

    @property
    def avg_price(self) -> Decimal:
        return self.cost / self.vol_exec if self.vol_exec else ZERO

    @property
    def belongs_in_book(self) -> bool:
        """Open orders with a limit price that are not waiting for a trigger sit in the book."""
        return (
            self.status is OrderState.OPEN
            and self.order_type.has_limit_price
            and (self.triggered or not self.order_type.is_triggered)
        )

    def view(self) -> OrderView:
        return OrderView(
            txid=self.txid,
            api_key=self.api_key,
            symbol=self.symbol,
            rest_pair=self.rest_pair,
            side=self.side,
            order_type=self.order_type,
            volume=self.volume,
            vol_exec=self.vol_exec,
            price=self.price,
            trigger_price=self.trigger_price,
            cost=self.cost,
            fee=self.fee,
            avg_price=self.avg_price,
            status=self.status,
            opentm=self.opentm,
            closetm=self.closetm,
            time_in_force=self.time_in_force,
            post_only=self.post_only,
            userref=self.userref,
            cl_ord_id=self.cl_ord_id,
            reason=self.reason,
            triggered=self.triggered,
            lastupdated=self.lastupdated,
            volume_in_quote=self.volume_in_quote,
            fee_in_base=self.fee_in_base,
        )


class PriceLevel:
    __slots__ = ("orders", "price", "qty")

    def __init__(self, price: Decimal) -> None:
        self.price = price
        self.qty = ZERO
        self.orders: dict[str, LiveOrder] = {}


LevelCallback = Callable[[str, Side, Decimal, Decimal], None]
"""(symbol, side, price, new aggregated qty) — qty 0 means the level is gone."""


class OrderBook:
    def __init__(self, symbol: str, on_level: LevelCallback) -> None:
        self.symbol = symbol
        self._on_level = on_level
        self._bids: SortedDict = SortedDict(operator.neg)
        self._asks: SortedDict = SortedDict()
        self._seq = 0

    def _side(self, side: Side) -> SortedDict:
        return self._bids if side is Side.BUY else self._asks

    def add(self, order: LiveOrder, *, keep_seq: bool = False) -> None:
        """Queue a resting order at the back of its level (or at its old `seq` on reload)."""
        assert order.price is not None
        levels = self._side(order.side)
        level = levels.get(order.price)
        if level is None:
            level = PriceLevel(order.price)
            levels[order.price] = level
        if keep_seq:
            self._seq = max(self._seq, order.seq)
        else:
            self._seq += 1
            order.seq = self._seq
        level.orders[order.txid] = order
        order.in_book = True
        level.qty += order.remaining
        self._on_level(self.symbol, order.side, order.price, level.qty)

    def remove(self, order: LiveOrder) -> None:
        assert order.price is not None
        levels = self._side(order.side)
        level: PriceLevel = levels[order.price]
        del level.orders[order.txid]
        order.in_book = False
        level.qty -= order.remaining
        if not level.orders:
            del levels[order.price]
            self._on_level(self.symbol, order.side, order.price, ZERO)
        else:
            self._on_level(self.symbol, order.side, order.price, level.qty)

    def reduce(self, order: LiveOrder, by: Decimal) -> None:
        """Take `by` off a resting order's remaining quantity (fill or downsize), keeping its
        place in the queue; the caller has already updated the order's own fields."""
        assert order.price is not None
        levels = self._side(order.side)
        level: PriceLevel = levels[order.price]
        level.qty -= by
        if order.remaining <= 0:
            del level.orders[order.txid]
            order.in_book = False
        if not level.orders:
            del levels[order.price]
            self._on_level(self.symbol, order.side, order.price, ZERO)
        else:
            self._on_level(self.symbol, order.side, order.price, level.qty)

    def grow(self, order: LiveOrder, by: Decimal) -> None:
        """Add `by` to a resting order already counted in its level (caller updated it)."""
        assert order.price is not None
        level: PriceLevel = self._side(order.side)[order.price]
        level.qty += by
        self._on_level(self.symbol, order.side, order.price, level.qty)

    def first(self, side: Side) -> LiveOrder | None:
        """The order with priority on `side`: best price, then earliest arrival."""
        levels = self._side(side)
        if not levels:
            return None
        level: PriceLevel = levels.peekitem(0)[1]
        return next(iter(level.orders.values()))

    def best(self, side: Side) -> tuple[Decimal, Decimal] | None:
        levels = self._side(side)
        if not levels:
            return None
        level: PriceLevel = levels.peekitem(0)[1]
        return level.price, level.qty

    def best_price(self, side: Side) -> Decimal | None:
        levels = self._side(side)
        return levels.peekitem(0)[0] if levels else None

    def top(self, side: Side, depth: int) -> tuple[tuple[Decimal, Decimal], ...]:
        levels = self._side(side)
        return tuple((level.price, level.qty) for level in islice(levels.values(), depth))

    def level_count(self, side: Side) -> int:
        return len(self._side(side))

    def orders_from_best(self, side: Side) -> Iterator[LiveOrder]:
        """Every resting order on `side` in matching priority (for walking the book)."""
        for level in self._side(side).values():
            yield from level.orders.values()

    def is_crossed(self) -> bool:
        bid, ask = self.best_price(Side.BUY), self.best_price(Side.SELL)
        return bid is not None and ask is not None and bid >= ask
