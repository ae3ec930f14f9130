"""Synthetic liquidity: the rest of the market, as the market simulator and replay see it.

It rests orders that never take (a price that would cross is refused, so the caller quotes
elsewhere) and sends aggressive flow that trades like an IOC order against everyone's
orders, users' included. It owns no funds: its account is the ledger's unlimited one.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from kraken_tui.domain.enums import Side, TimeInForce
from kraken_tui.domain.money import ZERO
from kraken_tui.sandbox.journal import VenueJournal
from kraken_tui.sandbox.ledger import MARKET_MAKER_KEY
from kraken_tui.sandbox.matching import LiveOrder, OrderBook
from kraken_tui.sandbox.matching_engine import MatchingEngine
from kraken_tui.sandbox.pairs import PairInfo, PairRegistry
from kraken_tui.sandbox.records import OrderState, VenueOrderType
from kraken_tui.sandbox.validation import crosses


class SyntheticLiquidity:
    def __init__(
        self,
        pairs: PairRegistry,
        books: Mapping[str, OrderBook],
        journal: VenueJournal,
    ) -> None:
        self._pairs = pairs
        self._books = books
        self._journal = journal
        self._resting: dict[str, LiveOrder] = {}
        self._seq = 0

    def place(self, pair: str, side: Side, price: Decimal, qty: Decimal) -> str | None:
        """Rest an order; None when its price would cross the opposite side (or qty <= 0)."""
        info = self._pairs.resolve(pair)
        book = self._books[info.symbol]
        if crosses(side, price, book.best_price(side.opposite)) or qty <= 0:
            return None
        with self._journal.step():
            order = self._new_order(info, side, VenueOrderType.LIMIT, qty, price)
            self._resting[order.txid] = order
            book.add(order)
        return order.txid

    def cancel(self, order_id: str) -> bool:
        """False when the order was already consumed."""
        order = self._resting.pop(order_id, None)
        if order is None:
            return False
        with self._journal.step():
            self._books[order.symbol].remove(order)
        return True

    def resize(self, order_id: str, qty: Decimal) -> bool:
        """Change a resting order's remaining size in place (it keeps its queue place)."""
        order = self._resting.get(order_id)
        if order is None or qty <= 0:
            return False
        with self._journal.step():
            book = self._books[order.symbol]
            delta = qty - order.remaining
            order.volume += delta
            if delta > 0:
                book.grow(order, delta)
            elif delta < 0:
                book.reduce(order, -delta)
        return True

    def remaining(self, order_id: str) -> Decimal:
        order = self._resting.get(order_id)
        return order.remaining if order is not None else ZERO

    def consumed(self, order_id: str) -> None:
        """A fill used the order up: forget it."""
        self._resting.pop(order_id, None)

    def take(
        self,
        engine: MatchingEngine,
        pair: str,
        side: Side,
        qty: Decimal,
        limit_price: Decimal | None,
    ) -> Decimal:
        """Trade up to `qty` down/up to `limit_price`; returns the quantity filled and drops
        the rest."""
        info = self._pairs.resolve(pair)
        with self._journal.step():
            kind = VenueOrderType.MARKET if limit_price is None else VenueOrderType.LIMIT
            order = self._new_order(info, side, kind, qty, limit_price)
            order.time_in_force = TimeInForce.IOC
            engine.match(order, info)
            engine.run_triggers()
        return order.vol_exec

    def _new_order(
        self,
        info: PairInfo,
        side: Side,
        kind: VenueOrderType,
        qty: Decimal,
        price: Decimal | None,
    ) -> LiveOrder:
        self._seq += 1
        return LiveOrder(
            txid=f"S{self._seq}",
            api_key=MARKET_MAKER_KEY,
            symbol=info.symbol,
            rest_pair=info.altname,
            side=side,
            order_type=kind,
            volume=qty,
            price=price,
            trigger_price=None,
            opentm=self._journal.now,
            status=OrderState.OPEN,
        )
