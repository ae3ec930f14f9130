"""`StrategyIntents`: what becomes of a strategy's intent. An order or amend is sent only if
risk allows it; a cancel only touches the strategy's own orders. Nothing here waits for the
exchange: the strategy call that produced the intent must return at once, so requests run
in the background (`spawn`) and their outcome comes back as events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from loguru import logger

from kraken_tui.engine.order_manager import OrderManager
from kraken_tui.engine.order_text import size_text
from kraken_tui.engine.proposals import amended_proposal, order_request, risk_context
from kraken_tui.engine.risk import ProposedOrder, RiskManager
from kraken_tui.engine.state import EngineState
from kraken_tui.engine.strategy_manager import StrategyHost
from kraken_tui.strategies import AmendOrder, CancelAll, CancelOrder, Intent, PlaceOrder


class StrategyIntents:
    def __init__(
        self,
        state: EngineState,
        orders: OrderManager,
        risk: RiskManager,
        *,
        spawn: Callable[[Awaitable[object]], None],
        touch: Callable[[], None],
    ) -> None:
        self._state = state
        self._orders = orders
        self._risk = risk
        self._spawn = spawn
        self._touch = touch

    def handle(self, host: StrategyHost, intent: Intent) -> None:
        match intent:
            case PlaceOrder():
                proposed = ProposedOrder(
                    symbol=host.symbol,
                    side=intent.side,
                    order_type=intent.order_type,
                    volume=intent.volume,
                    price=intent.price,
                    trigger_price=intent.trigger_price,
                    strategy=host.name,
                    quote_volume=intent.quote_volume,
                )
                context = risk_context(self._state, self._orders, proposed)
                if context is None or not self._risk.check(proposed, context).allowed:
                    self._touch()
                    return
                request = order_request(proposed, intent.tif, intent.post_only)
                self._orders.place(request)
                host.orders_sent += 1
                if intent.tag:
                    logger.info(
                        "{} sends {} {} {} ({})",
                        host.name,
                        size_text(request),
                        request.order_type,
                        request.cl_ord_id[:8],
                        intent.tag,
                    )
            case AmendOrder():
                self._amend(host, intent)
            case CancelOrder(cl_ord_id=cl_ord_id):
                order = self._orders.get(cl_ord_id)
                if order is None or order.strategy != host.name:
                    logger.warning(
                        "{} asked to cancel {}, not one of its orders", host.name, cl_ord_id
                    )
                    return
                self._spawn(self._orders.cancel(cl_ord_id))
            case CancelAll():
                own = [o.cl_ord_id for o in self._orders.open_orders_of(host.name)]
                if own:
                    self._spawn(self._orders.cancel_many(own))

    def _amend(self, host: StrategyHost, intent: AmendOrder) -> None:
        """Risk judges the order as it would be after the amend, with the order itself left
        out of the open orders so it is not counted twice (nor against `max_open_orders`: an
        amend adds no order)."""
        order = self._orders.get(intent.cl_ord_id)
        if order is None or order.strategy != host.name or not order.is_open:
            logger.warning(
                "{} asked to amend {}, not one of its open orders", host.name, intent.cl_ord_id
            )
            return
        proposed = amended_proposal(order, intent.price, intent.volume)
        context = risk_context(self._state, self._orders, proposed, leaving_out=order.cl_ord_id)
        if context is None or not self._risk.check(proposed, context).allowed:
            self._touch()
            return
        self._spawn(self._orders.amend(order.cl_ord_id, volume=intent.volume, price=intent.price))
