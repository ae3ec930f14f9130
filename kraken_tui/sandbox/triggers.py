"""Stop-loss and take-profit orders waiting for a trade at their trigger price.

A trade can fire triggers while it is still walking the book, so fired orders wait in a
queue and the venue runs them once that trade is complete (never re-entering the book
while it is being walked).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from decimal import Decimal

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.matching import LiveOrder
from kraken_tui.sandbox.records import VenueOrderType

_STOP_LOSS_TYPES = (VenueOrderType.STOP_LOSS, VenueOrderType.STOP_LOSS_LIMIT)


class TriggerBook:
    def __init__(self, symbols: Iterable[str]) -> None:
        self._waiting: dict[str, dict[str, LiveOrder]] = {symbol: {} for symbol in symbols}
        self._fired: deque[LiveOrder] = deque()

    def arm(self, order: LiveOrder, last_price: Decimal | None) -> None:
        """Wait for the trigger price, or fire at once when the last trade already reached it."""
        self._waiting[order.symbol][order.txid] = order
        self.recheck(order, last_price)

    def restore(self, order: LiveOrder) -> None:
        """Put back an order loaded from the store; only a new trade may fire it."""
        self._waiting[order.symbol][order.txid] = order

    def recheck(self, order: LiveOrder, last_price: Decimal | None) -> None:
        """Fire a waiting order whose (possibly amended) trigger the last trade reached."""
        if last_price is not None and is_triggered(order, last_price):
            self._waiting[order.symbol].pop(order.txid, None)
            self._fired.append(order)

    def disarm(self, order: LiveOrder) -> None:
        self._waiting[order.symbol].pop(order.txid, None)

    def collect(self, symbol: str, price: Decimal) -> None:
        """Fire every order on `symbol` that a trade at `price` triggers."""
        waiting = self._waiting[symbol]
        if not waiting:
            return
        for txid, order in list(waiting.items()):
            if is_triggered(order, price):
                del waiting[txid]
                self._fired.append(order)

    def next_fired(self) -> LiveOrder | None:
        return self._fired.popleft() if self._fired else None


def is_triggered(order: LiveOrder, price: Decimal) -> bool:
    trigger = order.trigger_price
    assert trigger is not None
    falling_side = (order.side is Side.SELL) == (order.order_type in _STOP_LOSS_TYPES)
    return price <= trigger if falling_side else price >= trigger
