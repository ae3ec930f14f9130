"""Startup reconciliation: make the store agree with the exchange before trading starts.

1. Every non-final stored order is matched against the exchange's open orders, then its closed
   orders, then a direct lookup by `cl_ord_id`. A found order takes the exchange's state. A
   `pending_new` order the exchange has never seen was written but never sent (a crash between
   write-ahead and send): it becomes `rejected` with that reason. An acknowledged order the
   exchange cannot find is left as it is and reported: nothing is guessed.
2. Orders on the exchange that the store lacks are adopted (`external=True`).
3. Fills since the last run are inserted with `insert_if_new`, so a fill missed while the
   engine was down is recovered once and a fill already stored is not counted again.

Every decision is written to the reconciliation log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from loguru import logger

from kraken_tui.clock import Clock
from kraken_tui.domain import Execution, Order, OrderStatus
from kraken_tui.engine.order_manager import NOT_RECEIVED, OrderManager
from kraken_tui.engine.order_text import size_text
from kraken_tui.exchange.protocol import Exchange
from kraken_tui.store import ReconciliationEntry, Store
from kraken_tui.store.codec import datetime_to_text, text_to_datetime

LAST_SEEN_KEY = "engine.last_seen"
MARGIN = timedelta(minutes=5)


@dataclass(slots=True)
class ReconciliationReport:
    checked: int = 0
    updated: int = 0
    adopted: int = 0
    not_received: int = 0
    unresolved: int = 0
    fills_recovered: list[Execution] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.checked} stored orders checked, {self.updated} updated, "
            f"{self.not_received} never sent, {self.unresolved} unresolved, "
            f"{self.adopted} adopted, {len(self.fills_recovered)} fills recovered"
        )


class Reconciler:
    def __init__(
        self, exchange: Exchange, store: Store, orders: OrderManager, clock: Clock
    ) -> None:
        self._exchange = exchange
        self._store = store
        self._orders = orders
        self._clock = clock

    async def run(self) -> ReconciliationReport:
        report = ReconciliationReport()
        stored = await self._store.orders.non_final()
        since = await self._since(stored)
        open_orders = await self._exchange.open_orders()
        closed_orders = await self._exchange.closed_orders(since) if since else []
        index = _Index(open_orders, closed_orders)
        for order in stored:
            report.checked += 1
            await self._reconcile_stored(order, index, report)
        for found in [*open_orders, *closed_orders]:
            if not index.is_claimed(found):
                await self._adopt(found, report)
        for execution in await self._exchange.executions_since(since) if since else []:
            if await self._store.executions.insert_if_new(execution):
                report.fills_recovered.append(execution)
                await self._record(
                    "fill_recovered",
                    execution.cl_ord_id,
                    execution.order_id,
                    f"{execution.exec_id} {execution.side} {execution.qty} @ {execution.price}",
                )
        await self.mark_seen()
        logger.info("reconciliation: {}", report.summary())
        return report

    async def mark_seen(self) -> None:
        """Record that the engine was running now: the next start looks back from here."""
        now = self._clock.now()
        await self._store.kv.set(LAST_SEEN_KEY, datetime_to_text(now), now)

    async def _since(self, stored: list[Order]) -> datetime | None:
        """Where to look back from; None on first contact with an empty store (no history of
        ours to recover, and an account's whole past is not ours to import)."""
        last_seen = await self._store.kv.get(LAST_SEEN_KEY)
        candidates = [o.created_at for o in stored if o.created_at is not None]
        if last_seen is not None:
            candidates.append(text_to_datetime(last_seen))
        if not candidates:
            return None
        return min(candidates) - MARGIN

    async def _reconcile_stored(
        self, order: Order, index: _Index, report: ReconciliationReport
    ) -> None:
        found = index.claim(order)
        if found is None and not order.external:
            found = await self._exchange.lookup_order(order.cl_ord_id)
            if found is not None:
                index.claim_found(found)
        if found is not None:
            merged = self._orders.merge_reported(order, found)
            if merged is not order:
                report.updated += 1
                await self._store.orders.update(merged)
                await self._record(
                    "updated",
                    order.cl_ord_id,
                    merged.order_id,
                    f"{order.status} -> {merged.status}, filled {order.filled} -> {merged.filled}",
                )
            self._orders.load(merged)
            return
        if order.status is OrderStatus.PENDING_NEW:
            report.not_received += 1
            rejected = order.with_changes(
                status=OrderStatus.REJECTED, reason=NOT_RECEIVED, updated_at=self._clock.now()
            )
            await self._store.orders.update(rejected)
            self._orders.load(rejected)
            await self._record("not_received", order.cl_ord_id, None, "pending_new -> rejected")
            return
        report.unresolved += 1
        self._orders.load(order)
        logger.error(
            "reconciliation: exchange has no record of acknowledged order {} ({}); left as {}",
            order.cl_ord_id,
            order.order_id,
            order.status,
        )
        await self._record("unresolved", order.cl_ord_id, order.order_id, f"left {order.status}")

    async def _adopt(self, found: Order, report: ReconciliationReport) -> None:
        if found.cl_ord_id and await self._store.orders.by_cl_ord_id(found.cl_ord_id):
            return
        if found.order_id and await self._store.orders.by_order_id(found.order_id):
            return
        adopted = self._orders.adopt(found)
        await self._store.orders.adopt(adopted)
        report.adopted += 1
        await self._record(
            "adopted",
            adopted.cl_ord_id,
            adopted.order_id,
            f"{size_text(adopted)} {adopted.status}",
        )

    async def _record(
        self, action: str, cl_ord_id: str | None, order_id: str | None, detail: str
    ) -> None:
        await self._store.reconciliation.record(
            ReconciliationEntry(self._clock.now(), action, cl_ord_id, order_id, detail)
        )


class _Index:
    """Exchange orders by both ids, remembering which ones a stored order has claimed."""

    def __init__(self, open_orders: Iterable[Order], closed_orders: Iterable[Order]) -> None:
        self._by_cl: dict[str, Order] = {}
        self._by_id: dict[str, Order] = {}
        for order in [*closed_orders, *open_orders]:
            if order.cl_ord_id:
                self._by_cl[order.cl_ord_id] = order
            if order.order_id:
                self._by_id[order.order_id] = order
        self._claimed: set[int] = set()

    def claim(self, stored: Order) -> Order | None:
        found = self._by_cl.get(stored.cl_ord_id)
        if found is None and stored.order_id:
            found = self._by_id.get(stored.order_id)
        if found is not None:
            self.claim_found(found)
        return found

    def claim_found(self, found: Order) -> None:
        self._claimed.add(id(found))

    def is_claimed(self, found: Order) -> bool:
        return id(found) in self._claimed
