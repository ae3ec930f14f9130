"""Orders as risk judges them, whoever asks: the `ProposedOrder` for an operator's order or
amend, the `RiskContext` it is judged in, and the `OrderRequest` sent once it passes.

Operator commands and strategy intents both build on these, so a manual order and a
strategy's order meet the same checks.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.domain import Order, OrderRequest, TimeInForce
from kraken_tui.domain.orders import check_size
from kraken_tui.engine.api import ManualOrder
from kraken_tui.engine.order_manager import OrderManager, new_cl_ord_id
from kraken_tui.engine.risk import ProposedOrder, RiskContext
from kraken_tui.engine.state import EngineState


def manual_proposal(order: ManualOrder) -> ProposedOrder:
    """Raises ValueError for an order sized in neither base nor quote, or in both (a manual
    order may come from a remote console, so it is checked as a strategy's intent is)."""
    check_size(order.side, order.order_type, order.volume, order.quote_volume)
    return ProposedOrder(
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        volume=order.volume,
        price=order.price,
        trigger_price=order.trigger_price,
        quote_volume=order.quote_volume,
    )


def amended_proposal(order: Order, price: Decimal | None, volume: Decimal | None) -> ProposedOrder:
    """The open order as it would be after the amend, with what it already filled (which the
    position holds, so only the rest can still move it)."""
    return ProposedOrder(
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        volume=order.volume if volume is None else volume,
        price=order.price if price is None else price,
        trigger_price=order.trigger_price,
        strategy=order.strategy,
        quote_volume=order.quote_volume,
        filled=order.filled,
    )


def order_request(order: ProposedOrder, tif: TimeInForce, post_only: bool) -> OrderRequest:
    return OrderRequest(
        cl_ord_id=new_cl_ord_id(),
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        volume=order.volume,
        price=order.price,
        trigger_price=order.trigger_price,
        time_in_force=tif,
        post_only=post_only,
        strategy=order.strategy,
        quote_volume=order.quote_volume,
    )


def risk_context(
    state: EngineState,
    orders: OrderManager,
    order: ProposedOrder,
    leaving_out: str | None = None,
) -> RiskContext | None:
    """None for a symbol not traded here. An amended order is `leaving_out` of the open
    orders, so it is not counted twice (nor against `max_open_orders`: an amend adds none)."""
    instrument = state.instruments.get(order.symbol)
    if instrument is None:
        return None
    open_orders = orders.open_orders
    if leaving_out is not None:
        open_orders = tuple(o for o in open_orders if o.cl_ord_id != leaving_out)
    positions = state.positions
    return RiskContext(
        instrument=instrument,
        book=state.books.get(order.symbol),
        symbol_position=positions.position(order.symbol),
        strategy_position=(
            positions.strategy_position(order.symbol, order.strategy)
            if order.strategy is not None
            else None
        ),
        open_orders=open_orders,
    )
