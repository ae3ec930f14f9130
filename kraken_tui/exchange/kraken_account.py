"""The account as Kraken's REST API reports it (orders, trades), each fill passed on exactly
once, and the reconciliation after the private stream was away: fills since the last one seen
(deduplicated by trade id) and the current state of every order."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from loguru import logger

from kraken_tui.domain import Execution, Order
from kraken_tui.exchange import kraken_parse as parse
from kraken_tui.exchange.instruments import InstrumentRegistry
from kraken_tui.exchange.kraken_rest import KrakenRest
from kraken_tui.exchange.protocol import (
    ExchangeError,
    ExchangeEvent,
    FillEvent,
    OrderEvent,
    OrderUpdate,
)

_SEEN_FILLS_KEPT = 10_000
_RECONCILE_OVERLAP = timedelta(minutes=5)
_PAGE_SIZE = 50


class KrakenAccount:
    def __init__(
        self,
        rest: KrakenRest,
        registry: InstrumentRegistry,
        emit: Callable[[ExchangeEvent], None],
    ) -> None:
        self._rest = rest
        self._registry = registry
        self._emit = emit
        self._seen_fills: OrderedDict[str, None] = OrderedDict()
        self._last_fill_ts: datetime | None = None
        self._reconcile_lock = asyncio.Lock()

    # -- REST reads ------------------------------------------------------------------------

    async def open_orders(self) -> list[Order]:
        result = await self._rest.private("OpenOrders")
        return self.orders_from(result.get("open", {}) if isinstance(result, Mapping) else {})

    async def closed_orders(self, since: datetime | None = None) -> list[Order]:
        orders: list[Order] = []
        offset = 0
        while True:
            params: dict[str, Any] = {"ofs": offset}
            if since is not None:
                params["start"] = int(since.timestamp())
            result = await self._rest.private("ClosedOrders", params)
            page = result.get("closed", {}) if isinstance(result, Mapping) else {}
            orders.extend(self.orders_from(page))
            offset += len(page)
            if len(page) < _PAGE_SIZE or offset >= int(result.get("count", 0)):
                return orders

    async def lookup_order(self, cl_ord_id: str) -> Order | None:
        """Kraken filters OpenOrders and ClosedOrders by `cl_ord_id`, so a lookup costs two
        small calls however many orders the account has; the result is still checked."""
        result = await self._rest.private("OpenOrders", {"cl_ord_id": cl_ord_id})
        open_orders = result.get("open", {}) if isinstance(result, Mapping) else {}
        for order in self.orders_from(open_orders):
            if order.cl_ord_id == cl_ord_id:
                return order
        result = await self._rest.private("ClosedOrders", {"cl_ord_id": cl_ord_id})
        closed = result.get("closed", {}) if isinstance(result, Mapping) else {}
        for order in self.orders_from(closed):
            if order.cl_ord_id == cl_ord_id:
                return order
        return None

    async def query_order(self, order_id: str) -> list[Order]:
        result = await self._rest.private("QueryOrders", {"txid": order_id})
        return self.orders_from(result if isinstance(result, Mapping) else {})

    async def executions_since(self, since: datetime | None = None) -> list[Execution]:
        fills: list[Execution] = []
        offset = 0
        while True:
            params: dict[str, Any] = {"ofs": offset}
            if since is not None:
                params["start"] = int(since.timestamp())
            result = await self._rest.private("TradesHistory", params)
            page = result.get("trades", {}) if isinstance(result, Mapping) else {}
            for trade_id, item in page.items():
                try:
                    fills.append(
                        parse.execution_from_rest(trade_id, item, self.symbol_of, self.quote_of)
                    )
                except (parse.MalformedPayload, ValueError) as exc:
                    logger.warning("Skipping malformed trade {}: {}", trade_id, exc)
            offset += len(page)
            if len(page) < _PAGE_SIZE or offset >= int(result.get("count", 0)):
                return sorted(fills, key=lambda e: e.ts)

    def orders_from(self, items: Mapping[str, Any]) -> list[Order]:
        orders: list[Order] = []
        for order_id, item in items.items():
            try:
                orders.append(parse.order_from_rest(order_id, item, self.symbol_of))
            except (parse.MalformedPayload, ValueError, TypeError) as exc:
                logger.warning("Skipping malformed order {}: {}", order_id, exc)
        return orders

    def symbol_of(self, pair: str) -> str:
        instrument = self._registry.get(pair)
        if instrument is None:
            raise parse.MalformedPayload(f"unknown pair {pair!r}")
        return instrument.symbol

    def quote_of(self, symbol: str) -> str:
        instrument = self._registry.get(symbol)
        return instrument.quote if instrument is not None else symbol.partition("/")[2]

    # -- fills exactly once, and reconciliation --------------------------------------------

    def emit_fill(self, fill: Execution) -> None:
        if fill.exec_id in self._seen_fills:
            return
        self._seen_fills[fill.exec_id] = None
        if len(self._seen_fills) > _SEEN_FILLS_KEPT:
            self._seen_fills.popitem(last=False)
        if self._last_fill_ts is None or fill.ts > self._last_fill_ts:
            self._last_fill_ts = fill.ts
        self._emit(FillEvent(fill))

    async def reconcile(self) -> None:
        """Recover what happened while the private stream was away: fills since the last one
        seen (deduplicated by trade id, so each arrives exactly once) and current orders."""
        async with self._reconcile_lock:
            since = (self._last_fill_ts or datetime.now(UTC) - timedelta(hours=1)) - (
                _RECONCILE_OVERLAP
            )
            try:
                for fill in await self.executions_since(since):
                    self.emit_fill(fill)
                orders = await self.open_orders() + await self.closed_orders(since)
            except ExchangeError as exc:
                logger.warning("Reconciliation after reconnect failed: {}", exc)
                return
            for order in orders:
                if order.order_id is not None:
                    ts = order.updated_at or datetime.now(UTC)
                    self._emit(OrderEvent(order_update(order, order.order_id, "reconciled", ts)))
            logger.info("Reconciled after reconnect: {} orders checked", len(orders))


def order_update(order: Order, order_id: str, exec_type: str, ts: datetime) -> OrderUpdate:
    """An order read over REST, reported as an update of the order it is (an order placed
    elsewhere keeps no `cl_ord_id` of ours)."""
    return OrderUpdate(
        order_id=order_id,
        cl_ord_id=None if order.external else order.cl_ord_id,
        symbol=order.symbol,
        status=order.status,
        exec_type=exec_type,
        filled=order.filled,
        ts=ts,
        avg_price=order.avg_price,
        reason=order.reason,
        order=order,
    )
