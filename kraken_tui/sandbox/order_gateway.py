"""The one path every trading request takes, whether it came over REST or WebSocket.

Kraken's trading counter is shared by REST, WebSocket and FIX, and injected order faults
must hit both transports alike, so rate limiting and fault injection sit here, between the
protocol handlers and the venue.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.domain.enums import Side, TimeInForce
from kraken_tui.sandbox.errors import UNKNOWN_ORDER, VenueError
from kraken_tui.sandbox.faults import FaultInjector
from kraken_tui.sandbox.ratelimits import (
    TRADING_RATE_LIMIT,
    RateLimiter,
    TradingAction,
    trading_cost,
)
from kraken_tui.sandbox.records import (
    AddOrderResult,
    AmendResult,
    CancelResult,
    DeadManSwitch,
    OrderView,
    VenueOrderType,
)
from kraken_tui.sandbox.venue import SandboxVenue


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order in the venue's terms: `price` is the limit price, `trigger_price` the
    stop/take-profit trigger (transports map their own field names onto these).
    `volume_in_quote` (REST `oflags=viqc`, WS `cash_order_qty`) makes `volume` the quote
    amount a market buy spends. `fee_in_base` is the fee currency asked for (REST `oflags`
    `fcib`/`fciq`, WS `fee_preference`); None leaves Kraken's default by side."""

    pair: str
    side: Side
    order_type: VenueOrderType
    volume: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    post_only: bool = False
    time_in_force: TimeInForce = TimeInForce.GTC
    userref: int | None = None
    cl_ord_id: str | None = None
    validate: bool = False
    volume_in_quote: bool = False
    fee_in_base: bool | None = None


@dataclass(frozen=True, slots=True)
class EditResult:
    new: AddOrderResult
    original: OrderView


class OrderGateway:
    def __init__(self, venue: SandboxVenue, limiter: RateLimiter, faults: FaultInjector) -> None:
        self._venue = venue
        self._limiter = limiter
        self._faults = faults

    def add(self, api_key: str, order: OrderRequest) -> AddOrderResult:
        pair = self._venue.pairs.resolve(order.pair)
        self._charge(api_key, pair.symbol, trading_cost(TradingAction.ADD, None))
        rejection = self._faults.take_reject()
        if rejection is not None:
            raise VenueError(rejection)
        return self._venue.add_order(
            api_key,
            pair=pair.symbol,
            side=order.side,
            order_type=order.order_type,
            volume=order.volume,
            price=order.price,
            trigger_price=order.trigger_price,
            post_only=order.post_only,
            time_in_force=order.time_in_force,
            userref=order.userref,
            cl_ord_id=order.cl_ord_id,
            validate=order.validate,
            volume_in_quote=order.volume_in_quote,
            fee_in_base=order.fee_in_base,
        )

    def amend(
        self,
        api_key: str,
        *,
        txid: str | None,
        cl_ord_id: str | None,
        order_qty: Decimal | None,
        limit_price: Decimal | None,
        trigger_price: Decimal | None,
        post_only: bool,
    ) -> AmendResult:
        order = self.find_open(api_key, txid=txid, cl_ord_id=cl_ord_id)
        self._charge_for(api_key, order, TradingAction.AMEND)
        return self._venue.amend_order(
            api_key,
            txid=order.txid,
            order_qty=order_qty,
            limit_price=limit_price,
            trigger_price=trigger_price,
            post_only=post_only,
        )

    def edit(
        self,
        api_key: str,
        *,
        txid: str,
        volume: Decimal | None,
        price: Decimal | None,
        trigger_price: Decimal | None,
        userref: int | None,
        post_only: bool | None,
        validate: bool,
    ) -> EditResult:
        """Kraken's EditOrder: cancel and replace with a new txid (queue priority is lost).
        The replacement is validated before the original is touched, so a refused edit
        leaves the original order working."""
        original = self.find_open(api_key, txid=txid, cl_ord_id=None)
        self._charge_for(api_key, original, TradingAction.EDIT)
        replacement = OrderRequest(
            pair=original.symbol,
            side=original.side,
            order_type=original.order_type,
            volume=volume if volume is not None else original.volume,
            price=price if price is not None else original.price,
            trigger_price=trigger_price if trigger_price is not None else original.trigger_price,
            post_only=original.post_only if post_only is None else post_only,
            time_in_force=original.time_in_force,
            userref=userref if userref is not None else original.userref,
        )
        if replacement.volume <= original.vol_exec:
            raise VenueError("EOrder:Invalid order")
        check = self._venue_add(api_key, replacement, validate=True, remaining_of=original)
        if validate:
            return EditResult(new=check, original=original)
        self._venue.cancel_order(api_key, txid=original.txid)
        return EditResult(
            new=self._venue_add(api_key, replacement, validate=False, remaining_of=original),
            original=original,
        )

    def cancel(
        self,
        api_key: str,
        *,
        txid: str | None = None,
        userref: int | None = None,
        cl_ord_id: str | None = None,
    ) -> CancelResult:
        orders = self._venue.open_orders(api_key, userref=userref, cl_ord_id=cl_ord_id)
        if txid is not None:
            orders = [order for order in orders if order.txid == txid]
        for order in orders:
            self._charge_for(api_key, order, TradingAction.CANCEL)
        return self._venue.cancel_order(api_key, txid=txid, userref=userref, cl_ord_id=cl_ord_id)

    def cancel_all(self, api_key: str) -> CancelResult:
        return self._venue.cancel_all(api_key)

    def cancel_all_orders_after(self, api_key: str, timeout_s: int) -> DeadManSwitch:
        return self._venue.cancel_all_orders_after(api_key, timeout_s)

    def find_open(self, api_key: str, *, txid: str | None, cl_ord_id: str | None) -> OrderView:
        if txid is None and cl_ord_id is None:
            raise VenueError("EGeneral:Invalid arguments:txid")
        for order in self._venue.open_orders(api_key, cl_ord_id=cl_ord_id):
            if txid is None or order.txid == txid:
                return order
        raise VenueError(UNKNOWN_ORDER)

    def _venue_add(
        self, api_key: str, order: OrderRequest, *, validate: bool, remaining_of: OrderView
    ) -> AddOrderResult:
        return self._venue.add_order(
            api_key,
            pair=order.pair,
            side=order.side,
            order_type=order.order_type,
            volume=order.volume - remaining_of.vol_exec,
            price=order.price,
            trigger_price=order.trigger_price,
            post_only=order.post_only,
            time_in_force=order.time_in_force,
            userref=order.userref,
            validate=validate,
        )

    def _charge_for(self, api_key: str, order: OrderView, action: TradingAction) -> None:
        age = max(0.0, self._venue.now() - order.opentm)
        self._charge(api_key, order.symbol, trading_cost(action, age))

    def _charge(self, api_key: str, symbol: str, cost: float) -> None:
        if self._faults.take_rate_limit():
            raise VenueError(TRADING_RATE_LIMIT)
        error = self._limiter.charge_trading(api_key, symbol, cost)
        if error is not None:
            raise VenueError(error)
