"""The backtest's side of the sandbox venue: queued requests, seeded liquidity, order views.

`VenueBroker` owns one funded account on a `SandboxVenue` and is the only code that calls it.
Requests wait in a queue until their arrival time (decision + latency), then meet liquidity
seeded from the bar as `FillModel` describes; what the venue reports back (acks, fills,
cancels, rejects) becomes domain `Order`s and `Execution`s, the position the strategy reads,
and the round trips of the report.

Nothing here runs on a bar without pending requests or resting orders: the replay asks
`next_arrival_us` and `resting` first, which is what keeps a year of minute bars cheap.

Market orders against unlimited depth are settled in closed form. The venue's general matching
(an order book, holds, ids, a dozen events per order) costs about 200 µs an order; a market
order meeting one synthetic level of unlimited depth has a result that can be written down
with the venue's own rules: its argument checks (`check_volume`, `check_cost`), its funds rule
(a buy needs `volume × price × (1 + taker)` available), its cost rounding (down onto the quote
asset's step) and its `FeeSchedule`. `MarketSettlement` does exactly that in a few µs, and
`tests/backtest/test_backtest_engine.py` runs random order sequences through both paths and
requires identical fills, rejections and balances. The first order that needs a book (limit,
post-only, stop) or a run with limited depth moves the account into the venue, funded with
the balances reached so far, and it stays there.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from loguru import logger

from kraken_tui.backtest.clock import ReplayClock
from kraken_tui.backtest.fill_model import FillModel
from kraken_tui.backtest.round_trips import RoundTripBuilder
from kraken_tui.domain import (
    Execution,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
)
from kraken_tui.domain.money import ZERO, quantize_down
from kraken_tui.sandbox.errors import (
    INSUFFICIENT_FUNDS,
    UNKNOWN_ORDER,
    VenueError,
)
from kraken_tui.sandbox.events import ExecType, ExecutionEvent, VenueEvent
from kraken_tui.sandbox.fees import FeeSchedule
from kraken_tui.sandbox.pairs import PairInfo
from kraken_tui.sandbox.records import VenueOrderType
from kraken_tui.sandbox.validation import affordable_volume, check_cost, check_volume
from kraken_tui.sandbox.venue import SandboxVenue

API_KEY = "backtest-account"
NEVER = 2**62
"""An arrival time later than any bar: the queue is empty."""

_VENUE_TYPES = {
    OrderType.MARKET: VenueOrderType.MARKET,
    OrderType.LIMIT: VenueOrderType.LIMIT,
    OrderType.STOP_LOSS: VenueOrderType.STOP_LOSS,
    OrderType.TAKE_PROFIT: VenueOrderType.TAKE_PROFIT,
}
_LIMIT_VARIANTS = {
    OrderType.STOP_LOSS: VenueOrderType.STOP_LOSS_LIMIT,
    OrderType.TAKE_PROFIT: VenueOrderType.TAKE_PROFIT_LIMIT,
}
_REPORTED = frozenset(
    {
        ExecType.NEW,
        ExecType.TRADE,
        ExecType.FILLED,
        ExecType.CANCELED,
        ExecType.EXPIRED,
        ExecType.AMENDED,
        ExecType.STATUS,
    }
)


@dataclass(frozen=True, slots=True)
class _Amend:
    cl_ord_id: str
    price: Decimal | None
    volume: Decimal | None


@dataclass(frozen=True, slots=True)
class _Request:
    arrival_us: int
    order: Order | None = None
    amend: _Amend | None = None
    cancel: str | None = None
    cancel_all: bool = False


class VenueBroker:
    def __init__(
        self,
        venue: SandboxVenue,
        pair: PairInfo,
        clock: ReplayClock,
        fill_model: FillModel,
        *,
        strategy: str,
        cash: Decimal,
    ) -> None:
        self._venue = venue
        self._pair = pair
        self._symbol = pair.symbol
        self._clock = clock
        self._fill = fill_model
        self._fee_ccy = pair.quote.display
        self._settlement: MarketSettlement | None = None
        if fill_model.volume_share is None:
            self._settlement = MarketSettlement(pair, venue.fees, cash)
        else:
            self._open_venue_account({pair.quote.code: cash})
        self.position = Position(symbol=pair.symbol, strategy=strategy)
        self.open_orders: dict[str, Order] = {}
        """Our orders not yet final, in flight or resting, by cl_ord_id (insertion order)."""
        self.fills: list[Execution] = []
        self.rejected = 0
        self.amended = 0
        self.trips = RoundTripBuilder()
        self.fees_paid = ZERO
        self.cash = float(cash)
        self.base = 0.0
        self.next_arrival_us = NEVER
        self.resting = 0
        """How many of our orders sit in the venue (limit or stop): the bar must be swept."""
        self.new_fills: list[Execution] = []
        self.updated_orders: dict[str, Order] = {}
        """Latest state of each order changed since the last `take_updates`."""
        self.refused_amends: list[tuple[Order, str]] = []
        """Orders the venue would not amend since the last `take_updates`, with its error."""
        self._queue: deque[_Request] = deque()
        self._seq = 0
        self._depth_bar_us = -1
        self._depth_left: dict[Side, Decimal] = {}

    # -- requests from the strategy ------------------------------------------------------------

    def submit(self, order: Order, now_us: int) -> None:
        self.open_orders[order.cl_ord_id] = order
        self._enqueue(_Request(now_us + self._fill.latency_us, order=order))

    def amend(
        self, cl_ord_id: str, price: Decimal | None, volume: Decimal | None, now_us: int
    ) -> None:
        amend = _Amend(cl_ord_id, price, volume)
        self._enqueue(_Request(now_us + self._fill.latency_us, amend=amend))

    def cancel(self, cl_ord_id: str, now_us: int) -> None:
        self._enqueue(_Request(now_us + self._fill.latency_us, cancel=cl_ord_id))

    def cancel_all(self, now_us: int) -> None:
        self._enqueue(_Request(now_us + self._fill.latency_us, cancel_all=True))

    def _enqueue(self, request: _Request) -> None:
        self._queue.append(request)
        self.next_arrival_us = min(self.next_arrival_us, request.arrival_us)

    # -- the venue, at a bar's open and during the bar ------------------------------------------

    def arrive(self, bar_open_us: int, open_price: Decimal, bar_volume: float) -> None:
        """Deliver every request due by this bar's open, in the order they were sent. Requests
        the strategy makes while these are handled wait for the next bar."""
        due = [r for r in self._queue if r.arrival_us <= bar_open_us]
        for request in due:
            self._queue.remove(request)
        self.next_arrival_us = min((r.arrival_us for r in self._queue), default=NEVER)
        self._start_bar(bar_open_us, bar_volume)
        for request in due:
            if request.order is not None:
                self._place(request.order, open_price)
            elif request.amend is not None:
                self._amend(request.amend)
            elif request.cancel is not None:
                self._cancel(request.cancel)
            elif self._settlement is None:
                self._venue.cancel_all(API_KEY)
        self._refresh_balances()

    def sweep(
        self, bar_open_us: int, open_: float, high: float, low: float, close: float, volume: float
    ) -> None:
        """Trade synthetic flow along the bar's path against our resting orders, out of what
        is left of the bar's depth on each side after the orders that arrived at its open."""
        self._start_bar(bar_open_us, volume)
        tick = self._pair.tick_size
        down = (Side.SELL, Decimal(repr(low)) + tick)
        up = (Side.BUY, Decimal(repr(high)) - tick)
        self._flow((down, up) if close >= open_ else (up, down))

    def print_trade(self, ts_us: int, price: float, volume: float) -> None:
        """A print at `price` fills our resting bids above it and asks below it (traded
        through by at least one tick), up to its share of the print's volume."""
        self._start_bar(ts_us, volume)
        tick = self._pair.tick_size
        at = Decimal(repr(price))
        self._flow(((Side.SELL, at + tick), (Side.BUY, at - tick)))

    def _flow(self, legs: tuple[tuple[Side, Decimal], ...]) -> None:
        for side, limit in legs:
            left = self._depth_left[side]
            if self.resting and left > 0:
                self._depth_left[side] = left - self._venue.take_synthetic(
                    self._symbol, side, left, limit
                )
        self._refresh_balances()

    def _start_bar(self, bar_open_us: int, bar_volume: float) -> None:
        """`_depth_left[side]`: what synthetic `side` orders may still trade in this bar (sell
        depth meets our buys, buy depth our sells)."""
        if self._depth_bar_us != bar_open_us:
            depth = self._fill.depth(bar_volume, self._pair.lot_step)
            self._depth_left = {Side.BUY: depth, Side.SELL: depth}
            self._depth_bar_us = bar_open_us

    def _place(self, order: Order, open_price: Decimal) -> None:
        bid, ask = self._fill.taker_quotes(open_price, self._pair.tick_size)
        settlement = self._settlement
        if settlement is not None:
            if order.order_type is OrderType.MARKET:
                self._settle_market(settlement, order, ask if order.side is Side.BUY else bid)
                return
            self._settlement = None
            self._open_venue_account(settlement.balances())
        maker_side = order.side.opposite
        depth = self._depth_left[maker_side]
        quote = None
        if depth > 0:
            price = ask if maker_side is Side.SELL else bid
            quote = self._venue.place_synthetic(self._symbol, maker_side, price, depth)
        try:
            self._venue.add_order(
                API_KEY,
                pair=self._symbol,
                side=order.side,
                order_type=_venue_type(order),
                volume=order.volume if order.quote_volume is None else order.quote_volume,
                volume_in_quote=order.quote_volume is not None,
                price=order.price,
                trigger_price=order.trigger_price,
                post_only=order.post_only,
                time_in_force=order.time_in_force,
                cl_ord_id=order.cl_ord_id,
                # As live: the engine's orders ask for the fee in quote (`oflags=fciq`), so
                # a fill moves the base by exactly its quantity, as MarketSettlement does.
                fee_in_base=False,
            )
        except VenueError as error:
            self._reject(order, error.error)
        finally:
            if quote is not None:
                self._depth_left[maker_side] = self._venue.synthetic_remaining(quote)
                self._venue.cancel_synthetic(quote)

    def _settle_market(self, settlement: MarketSettlement, order: Order, price: Decimal) -> None:
        try:
            if order.quote_volume is not None:
                volume, fee = settlement.settle_quote(order.quote_volume, price)
            else:
                volume = order.volume
                fee = settlement.settle(order.side, volume, price)
        except VenueError as error:
            self._reject(order, error.error)
            return
        self._seq += 1
        now = self._clock.now()
        fill = Execution(
            exec_id=f"BTF{self._seq}",
            order_id=f"BTO{self._seq}",
            symbol=self._symbol,
            side=order.side,
            price=price,
            qty=volume,
            fee=fee,
            fee_ccy=self._fee_ccy,
            liquidity=Liquidity.TAKER,
            ts=now,
            cl_ord_id=order.cl_ord_id,
        )
        self._record(fill)
        del self.open_orders[order.cl_ord_id]
        # Built directly: `with_changes` (dataclasses.replace) costs several times more, and
        # this runs for every order of a market-order strategy.
        self.updated_orders[order.cl_ord_id] = Order(
            cl_ord_id=order.cl_ord_id,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            volume=order.volume,
            status=OrderStatus.FILLED,
            price=order.price,
            trigger_price=order.trigger_price,
            time_in_force=order.time_in_force,
            post_only=order.post_only,
            order_id=fill.order_id,
            filled=volume,
            avg_price=price,
            fees=fee,
            strategy=order.strategy,
            created_at=order.created_at,
            updated_at=now,
            quote_volume=order.quote_volume,
        )

    def _open_venue_account(self, funding: dict[str, Decimal]) -> None:
        self._venue.open_account(API_KEY, funding)
        self._venue.subscribe(self._on_venue_event)

    def _amend(self, amend: _Amend) -> None:
        """The venue's own AmendOrder; a refusal leaves the order as it was and is handed to
        the strategy. An order that ended while the amend travelled needs nothing."""
        order = self.open_orders.get(amend.cl_ord_id)
        if self._settlement is not None or order is None:
            return
        try:
            self._venue.amend_order(
                API_KEY,
                cl_ord_id=amend.cl_ord_id,
                limit_price=amend.price,
                order_qty=amend.volume,
            )
        except VenueError as error:
            logger.debug("backtest: venue refused to amend {}: {}", amend.cl_ord_id, error.error)
            self.refused_amends.append((self.open_orders.get(amend.cl_ord_id, order), error.error))
            return
        self.amended += 1

    def _cancel(self, cl_ord_id: str) -> None:
        if self._settlement is not None:
            return  # without the venue no order ever rests: there is nothing left to cancel
        try:
            self._venue.cancel_order(API_KEY, cl_ord_id=cl_ord_id)
        except VenueError as error:
            if error.error != UNKNOWN_ORDER:
                raise
            logger.debug("backtest: cancel of {} found it already closed", cl_ord_id)

    def _reject(self, order: Order, reason: str) -> None:
        self.rejected += 1
        self.open_orders.pop(order.cl_ord_id, None)
        rejected = order.with_changes(
            status=OrderStatus.REJECTED, reason=reason, updated_at=self._clock.now()
        )
        self.updated_orders[order.cl_ord_id] = rejected
        logger.debug("backtest: venue refused {}: {}", order.cl_ord_id, reason)

    def balances(self) -> dict[str, Decimal]:
        """Quote and base balances (REST asset codes), wherever the account lives now."""
        if self._settlement is not None:
            return self._settlement.balances()
        return self._venue.balances(API_KEY)

    def available_quote(self) -> Decimal:
        """Quote balance free for new orders: what open orders hold is not available."""
        if self._settlement is not None:
            return self._settlement.quote
        entry = self._venue.balances_ex(API_KEY).get(self._pair.quote.code)
        return ZERO if entry is None else entry.available

    def _refresh_balances(self) -> None:
        balances = self.balances()
        self.cash = float(balances.get(self._pair.quote.code, ZERO))
        self.base = float(balances.get(self._pair.base.code, ZERO))

    # -- what the venue reports ------------------------------------------------------------------

    def _on_venue_event(self, event: VenueEvent) -> None:
        if not isinstance(event, ExecutionEvent) or event.api_key != API_KEY:
            return
        if event.exec_type not in _REPORTED:
            return
        view = event.order
        now = self._clock.now()
        if event.exec_type is ExecType.TRADE:
            self._record_fill(event, now)
        known = self.open_orders.get(view.cl_ord_id or "")
        if known is None:
            return
        order = known.with_changes(
            # Our order states are the words of Kraken WS v2 `order_status`.
            status=OrderStatus(view.ws_status),
            order_id=view.txid,
            filled=view.vol_exec,
            avg_price=view.avg_price if view.vol_exec > 0 else None,
            fees=view.fee,
            reason=event.reason,
            updated_at=now,
        )
        if event.exec_type is ExecType.AMENDED:
            order = order.with_changes(volume=view.volume, price=view.price)
        if order.is_open:
            self.open_orders[order.cl_ord_id] = order
        else:
            del self.open_orders[order.cl_ord_id]
        self.resting = sum(
            1 for o in self.open_orders.values() if o.status is not OrderStatus.PENDING_NEW
        )
        self.updated_orders[order.cl_ord_id] = order

    def _record_fill(self, event: ExecutionEvent, now: datetime) -> None:
        if event.exec_id is None or event.last_qty is None or event.last_price is None:
            raise RuntimeError(f"venue trade report for {event.order.txid} without fill details")
        fee = event.last_fee or ZERO
        fill = Execution(
            exec_id=event.exec_id,
            order_id=event.order.txid,
            symbol=self._symbol,
            side=event.order.side,
            price=event.last_price,
            qty=event.last_qty,
            fee=fee,
            fee_ccy=self._fee_ccy,
            liquidity=event.liquidity_ind or Liquidity.TAKER,
            ts=now,
            cl_ord_id=event.order.cl_ord_id,
        )
        self._record(fill)

    def _record(self, fill: Execution) -> None:
        before = self.position
        self.position = before.apply(fill.side, fill.qty, fill.price, fill.fee, fill.ts)
        self.trips.add(fill, before, self.position)
        self.fees_paid += fill.fee
        self.fills.append(fill)
        self.new_fills.append(fill)

    def take_updates(self) -> tuple[list[Execution], list[Order], list[tuple[Order, str]]]:
        """Fills, order changes and refused amends since the last call, for the strategy's
        handlers."""
        fills, orders = self.new_fills, list(self.updated_orders.values())
        refused = self.refused_amends
        self.new_fills, self.updated_orders, self.refused_amends = [], {}, []
        return fills, orders, refused

    @property
    def has_updates(self) -> bool:
        return bool(self.new_fills or self.updated_orders or self.refused_amends)

    def pending_requests(self) -> int:
        return len(self._queue)


class MarketSettlement:
    """The venue's result for a market order against one synthetic level of unlimited depth,
    and the account balances (quote and base, Decimal) it moves."""

    def __init__(self, pair: PairInfo, fees: FeeSchedule, cash: Decimal) -> None:
        self._pair = pair
        self._instrument = pair.to_instrument()
        self._fees = fees
        self._quote_step = pair.quote.step
        self.quote = cash
        self.base = ZERO

    def settle(self, side: Side, volume: Decimal, price: Decimal) -> Decimal:
        """Fill `volume` at `price` and return the fee; raises VenueError with the venue's
        error for an order it would refuse (leaving the balances untouched)."""
        pair = self._pair
        check_volume(pair, volume)
        check_cost(pair, price, volume)
        if side is Side.BUY:
            if volume * price * (1 + self._fees.taker) > self.quote:
                raise VenueError(INSUFFICIENT_FUNDS)
        elif volume > self.base:
            raise VenueError(INSUFFICIENT_FUNDS)
        return self._book(side, volume, price)

    def settle_quote(self, amount: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
        """A market buy spending `amount` of quote (`viqc`) at `price`: (volume, fee). The
        venue's checks in its order: the amount on the quote grid, `costmin`, the volume it
        buys against `ordermin`, then funds (the amount plus the taker fee)."""
        error = self._instrument.check_quote_order(amount, price)
        if error is not None:
            raise VenueError(error)
        if amount * (1 + self._fees.taker) > self.quote:
            raise VenueError(INSUFFICIENT_FUNDS)
        volume = affordable_volume(amount, price, self._pair.lot_step)
        return volume, self._book(Side.BUY, volume, price)

    def _book(self, side: Side, volume: Decimal, price: Decimal) -> Decimal:
        cost = quantize_down(price * volume, self._quote_step)
        fee = self._fees.fee(cost, False, self._quote_step)
        if side is Side.BUY:
            self.base += volume
            self.quote -= cost + fee
        else:
            self.base -= volume
            self.quote += cost - fee
        return fee

    def balances(self) -> dict[str, Decimal]:
        return {self._pair.quote.code: self.quote, self._pair.base.code: self.base}


def _venue_type(order: Order) -> VenueOrderType:
    if order.price is not None and order.order_type in _LIMIT_VARIANTS:
        return _LIMIT_VARIANTS[order.order_type]
    return _VENUE_TYPES[order.order_type]
