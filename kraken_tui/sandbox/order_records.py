"""Every user order and fill the venue knows, per account, and the history queries on them.

Open orders are keyed by txid per account; closed orders and fills are kept in the order
they happened, so Kraken's newest-first pages are a reversed walk. History bounds follow
Kraken: exclusive, given as unix seconds or as an id (an order's close time, a fill's time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from kraken_tui.sandbox.errors import INVALID_ORDER, UNKNOWN_ORDER, VenueError, invalid_argument
from kraken_tui.sandbox.matching import LiveOrder
from kraken_tui.sandbox.pairs import PairRegistry
from kraken_tui.sandbox.records import FillView, OrderView, Page

_AVG_PRICE_EXTRA_DECIMALS = 4


class OrderRecords:
    def __init__(self, pairs: PairRegistry) -> None:
        self._pairs = pairs
        self.orders: dict[str, LiveOrder] = {}
        """Every user order by txid, open or closed."""
        self._open: dict[str, dict[str, LiveOrder]] = {}
        self._closed: dict[str, list[LiveOrder]] = {}
        self._fills: dict[str, list[FillView]] = {}

    def add_account(self, api_key: str) -> None:
        self._open[api_key] = {}
        self._closed[api_key] = []
        self._fills[api_key] = []

    def register_open(self, order: LiveOrder) -> None:
        self.orders[order.txid] = order
        self._open[order.api_key][order.txid] = order

    def register_closed(self, order: LiveOrder) -> None:
        """Keep a closed order loaded from the store (callers add them by close time)."""
        self.orders[order.txid] = order
        self._closed[order.api_key].append(order)

    def move_to_closed(self, order: LiveOrder) -> None:
        self._open[order.api_key].pop(order.txid, None)
        self._closed[order.api_key].append(order)

    def add_fill(self, fill: FillView) -> None:
        self._fills[fill.api_key].append(fill)

    def open_of(self, api_key: str) -> list[LiveOrder]:
        return list(self._open[api_key].values())

    def has_open_cl_ord_id(self, api_key: str, cl_ord_id: str) -> bool:
        return any(o.cl_ord_id == cl_ord_id for o in self._open[api_key].values())

    def find_open(self, api_key: str, txid: str | None, cl_ord_id: str | None) -> LiveOrder:
        open_orders = self._open[api_key]
        if txid is not None:
            order = open_orders.get(txid)
        elif cl_ord_id is not None:
            order = next((o for o in open_orders.values() if o.cl_ord_id == cl_ord_id), None)
        else:
            raise VenueError(invalid_argument("txid"))
        if order is None:
            raise VenueError(UNKNOWN_ORDER)
        return order

    def cancel_targets(
        self, api_key: str, txid: str | None, userref: int | None, cl_ord_id: str | None
    ) -> list[LiveOrder]:
        """The open orders a CancelOrder names: by txid, by cl_ord_id, or all with `userref`."""
        open_orders = self._open[api_key]
        if txid is not None:
            targets = [open_orders[txid]] if txid in open_orders else []
        elif cl_ord_id is not None:
            targets = [o for o in open_orders.values() if o.cl_ord_id == cl_ord_id]
        elif userref is not None:
            targets = [o for o in open_orders.values() if o.userref == userref]
        else:
            raise VenueError(invalid_argument("txid"))
        if not targets:
            raise VenueError(UNKNOWN_ORDER)
        return targets

    def view(self, order: LiveOrder) -> OrderView:
        """The order as replies show it: the average price a few digits finer than prices."""
        view = order.view()
        if view.vol_exec:
            step = self._pairs.resolve(order.symbol).price_step.scaleb(-_AVG_PRICE_EXTRA_DECIMALS)
            return replace(view, avg_price=view.avg_price.quantize(step))
        return view

    def open_orders(
        self, api_key: str, userref: int | None, cl_ord_id: str | None
    ) -> list[OrderView]:
        return [
            self.view(order)
            for order in sorted(self._open[api_key].values(), key=lambda o: (o.opentm, o.seq))
            if (userref is None or order.userref == userref)
            and (cl_ord_id is None or order.cl_ord_id == cl_ord_id)
        ]

    def closed_orders(
        self,
        api_key: str,
        *,
        start: float | str | None,
        end: float | str | None,
        offset: int,
        limit: int,
        userref: int | None,
        cl_ord_id: str | None,
    ) -> Page[OrderView]:
        lower = self._bound(start)
        upper = self._bound(end)
        matching = [
            order
            for order in reversed(self._closed[api_key])
            if (lower is None or (order.closetm or 0) > lower)
            and (upper is None or (order.closetm or 0) < upper)
            and (userref is None or order.userref == userref)
            and (cl_ord_id is None or order.cl_ord_id == cl_ord_id)
        ]
        page = matching[max(offset, 0) : max(offset, 0) + limit]
        return Page([self.view(order) for order in page], len(matching))

    def query_orders(self, api_key: str, txids: Sequence[str]) -> list[OrderView]:
        views = []
        for txid in txids:
            order = self.orders.get(txid)
            if order is None or order.api_key != api_key:
                raise VenueError(INVALID_ORDER)
            views.append(self.view(order))
        return views

    def trades_history(
        self,
        api_key: str,
        *,
        start: float | str | None,
        end: float | str | None,
        offset: int,
        limit: int,
    ) -> Page[FillView]:
        lower = self._fill_bound(api_key, start)
        upper = self._fill_bound(api_key, end)
        matching = [
            fill
            for fill in reversed(self._fills[api_key])
            if (lower is None or fill.time > lower) and (upper is None or fill.time < upper)
        ]
        return Page(matching[max(offset, 0) : max(offset, 0) + limit], len(matching))

    def recent_fills(self, api_key: str, count: int) -> list[FillView]:
        return self._fills[api_key][-count:] if count > 0 else []

    def _bound(self, value: float | str | None) -> float | None:
        if value is None or isinstance(value, int | float):
            return value
        order = self.orders.get(value)
        if order is not None:
            return order.closetm or order.opentm
        try:
            return float(value)
        except ValueError:
            raise VenueError(invalid_argument("start")) from None

    def _fill_bound(self, api_key: str, value: float | str | None) -> float | None:
        if isinstance(value, str):
            match = next((f for f in self._fills[api_key] if f.trade_id == value), None)
            if match is not None:
                return match.time
        return self._bound(value)
