"""Running reconciliation: catch what the private feed missed while the engine runs.

A WebSocket can drop an execution report without dropping the connection. Periodically this
compares our open orders with the exchange's: an order the exchange no longer lists is looked up
(closed orders) before anything is concluded, and its real state is fed back as an order
update; orders the exchange has and we lack come back as updates too (and are adopted). Recent
fills are re-published as fill events: the engine's fill path stores each with
`insert_if_new`, so only the ones it missed move positions.

Everything goes back through the bus, so the engine applies it exactly as a live report.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from loguru import logger

from kraken_tui.clock import Clock
from kraken_tui.domain import Order, OrderStatus
from kraken_tui.engine.order_manager import OrderManager
from kraken_tui.exchange.protocol import Exchange, FillEvent, OrderEvent, OrderUpdate

FILL_MARGIN = timedelta(minutes=2)


class OrderSync:
    def __init__(
        self,
        exchange: Exchange,
        orders: OrderManager,
        publish: Callable[[object], None],
        clock: Clock,
    ) -> None:
        self._exchange = exchange
        self._orders = orders
        self._publish = publish
        self._clock = clock
        self._last: datetime | None = None

    async def run_once(self) -> tuple[int, int]:
        """One pass; returns (order updates published, fills re-published)."""
        started = self._clock.now()
        on_exchange = await self._exchange.open_orders()
        listed_cl = {o.cl_ord_id for o in on_exchange if o.cl_ord_id}
        listed_id = {o.order_id for o in on_exchange if o.order_id}
        updates = 0
        for order in self._orders.open_orders:
            if order.status is OrderStatus.PENDING_NEW:
                continue
            if order.cl_ord_id in listed_cl or order.order_id in listed_id:
                continue
            found = await self._find_closed(order)
            if found is None:
                logger.warning(
                    "order {} is neither open nor closed on the exchange; left {}",
                    order.cl_ord_id,
                    order.status,
                )
                continue
            self._publish(OrderEvent(_update(found, self._clock.now())))
            updates += 1
        for listed in on_exchange:
            known = self._orders.find(cl_ord_id=listed.cl_ord_id or None, order_id=listed.order_id)
            if known is None or known.filled < listed.filled or known.status != listed.status:
                self._publish(OrderEvent(_update(listed, self._clock.now())))
                updates += 1
        since = (self._last or started) - FILL_MARGIN
        fills = await self._exchange.executions_since(since)
        for execution in fills:
            self._publish(FillEvent(execution))
        self._last = started
        return updates, len(fills)

    async def _find_closed(self, order: Order) -> Order | None:
        if not order.external:
            return await self._exchange.lookup_order(order.cl_ord_id)
        since = order.created_at - FILL_MARGIN if order.created_at is not None else None
        for closed in await self._exchange.closed_orders(since):
            if closed.order_id == order.order_id:
                return closed
        return None


def _update(order: Order, now: datetime) -> OrderUpdate:
    if order.order_id is None:
        raise ValueError(f"exchange order {order.cl_ord_id} has no order id")
    return OrderUpdate(
        order_id=order.order_id,
        cl_ord_id=order.cl_ord_id or None,
        symbol=order.symbol,
        status=order.status,
        exec_type="sync",
        filled=order.filled,
        ts=order.updated_at or now,
        avg_price=order.avg_price,
        reason=order.reason,
        order=order,
    )
