"""OrderManager: the only code that sends, cancels or tracks orders.

Guarantees, and how they are kept:
- Write-ahead. Every order gets a `cl_ord_id` (a 32-hex-digit short UUID, a form Kraken accepts
  and unique across restarts) and its `pending_new` row is committed to the store before
  `exchange.add_order` is awaited. After a crash the row tells reconciliation what to look up.
- Never sent twice. A request whose outcome is unknown (timeout, dropped connection, any error
  other than a clean rejection) is resolved by `exchange.lookup_order(cl_ord_id)` with backoff;
  it is never resent. While unresolved the order stays `pending_new` and counts as open.
- Exchange reports win. Order updates move the state machine forward only (a late `new` never
  reopens a `filled` order; `filled` never shrinks), except that an order we concluded never
  arrived is revived if the exchange later reports it.
- Fills exactly once. `on_execution` stores a fill with `insert_if_new`; only a new fill is
  reported onwards to positions.

Order rows are committed (awaited) for the transitions reconciliation depends on (ack, reject,
cancel outcome) and batched through the writer for the rest: losing a batched update in a crash
is safe because startup reconciliation re-reads the order from the exchange.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from loguru import logger

from kraken_tui.clock import Clock
from kraken_tui.domain import Execution, Order, OrderRequest, OrderStatus
from kraken_tui.engine.order_text import size_text
from kraken_tui.exchange.protocol import (
    Exchange,
    ExchangeError,
    OrderEntryHalted,
    OrderRejected,
    OrderUpdate,
    UnknownOrder,
)
from kraken_tui.store import Store, StoreError

_FORWARD: Mapping[OrderStatus, int] = {
    OrderStatus.PENDING_NEW: 0,
    OrderStatus.NEW: 1,
    OrderStatus.PARTIALLY_FILLED: 2,
    OrderStatus.PENDING_CANCEL: 3,
}
_KEEP_FINAL_ORDERS = 500
NOT_RECEIVED = "not received by the exchange"


def new_cl_ord_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class LookupPolicy:
    """How an unknown outcome is resolved: `absent_checks` lookups that all find nothing,
    `backoff_s` apart (doubling, capped), mean the order never arrived; lookups that fail keep
    retrying at the cap until they get an answer."""

    absent_checks: int = 4
    backoff_s: float = 0.25
    max_backoff_s: float = 10.0


OrderListener = Callable[[Order], None]
AmendRefusedListener = Callable[[Order, str], None]


class OrderManager:
    def __init__(
        self,
        exchange: Exchange,
        store: Store,
        clock: Clock,
        *,
        lookup: LookupPolicy | None = None,
    ) -> None:
        self._exchange = exchange
        self._store = store
        self._clock = clock
        self._lookup = lookup or LookupPolicy()
        self._orders: dict[str, Order] = {}
        self._by_order_id: dict[str, str] = {}
        self._sending: dict[str, asyncio.Task[Order]] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._cancel_on_ack: set[str] = set()
        self._cancelling: dict[str, asyncio.Task[bool]] = {}
        self._presumed_absent: set[str] = set()
        self._listeners: list[OrderListener] = []
        self._amend_refused_listeners: list[AmendRefusedListener] = []
        self._open: tuple[Order, ...] = ()
        self.sent = 0

    # -- queries ---------------------------------------------------------------------------------

    @property
    def open_orders(self) -> tuple[Order, ...]:
        """Every order not final (pending_new included): immutable, replaced on change."""
        return self._open

    def get(self, cl_ord_id: str) -> Order | None:
        return self._orders.get(cl_ord_id)

    def find(self, *, cl_ord_id: str | None, order_id: str | None) -> Order | None:
        if cl_ord_id is not None and cl_ord_id in self._orders:
            return self._orders[cl_ord_id]
        if order_id is not None and order_id in self._by_order_id:
            return self._orders[self._by_order_id[order_id]]
        return None

    def open_orders_of(self, strategy: str) -> tuple[Order, ...]:
        return tuple(o for o in self._open if o.strategy == strategy)

    def on_change(self, listener: OrderListener) -> None:
        self._listeners.append(listener)

    def on_amend_refused(self, listener: AmendRefusedListener) -> None:
        """Called with the unchanged order and the exchange's reason: a refused amend changes
        no order, so `on_change` listeners never hear of it."""
        self._amend_refused_listeners.append(listener)

    # -- placing -----------------------------------------------------------------------------------

    def place(self, request: OrderRequest) -> Order:
        """Track the order as pending_new at once (so risk counts it) and send it in the
        background: write-ahead, then `add_order`. Returns the pending order."""
        order = self._track_new(request)
        task = asyncio.create_task(self._send(request, order), name=f"send {request.cl_ord_id}")
        self._sending[request.cl_ord_id] = task
        task.add_done_callback(lambda _: self._sending.pop(request.cl_ord_id, None))
        return order

    async def place_and_wait(self, request: OrderRequest) -> Order:
        """`place`, then wait until the exchange accepted, rejected or the outcome resolved."""
        self.place(request)
        return await self._sending[request.cl_ord_id]

    async def wait_sent(self) -> None:
        """Wait until no send is in flight (tests, shutdown)."""
        while self._sending:
            await asyncio.gather(*self._sending.values(), return_exceptions=True)

    def _track_new(self, request: OrderRequest) -> Order:
        if request.cl_ord_id in self._orders:
            raise ValueError(f"order {request.cl_ord_id} is already tracked")
        order = Order.from_request(request, self._clock.now())
        self._set(order)
        return order

    async def _send(self, request: OrderRequest, order: Order) -> Order:
        try:
            await self._store.orders.insert_pending(order)
        except StoreError as exc:
            logger.error("order {} not sent: write-ahead failed: {}", order.cl_ord_id, exc)
            return self._set(order.with_changes(status=OrderStatus.REJECTED, reason=str(exc)))
        self.sent += 1
        try:
            ack = await self._exchange.add_order(request)
        except OrderRejected as exc:
            reason = exc.kraken_error or str(exc)
            if isinstance(exc, OrderEntryHalted):
                logger.info("order {} {}", order.cl_ord_id, reason)
            else:
                logger.warning("order {} rejected: {}", order.cl_ord_id, reason)
            return await self._commit(
                self._current(order).with_changes(status=OrderStatus.REJECTED, reason=reason)
            )
        except Exception as exc:
            logger.warning(
                "order {}: outcome unknown ({}: {}); looking it up, never resending",
                order.cl_ord_id,
                type(exc).__name__,
                exc,
            )
            return self._cancel_if_requested(await self._resolve(order.cl_ord_id))
        current = self._current(order)
        changes: dict[str, object] = {"order_id": ack.order_id}
        if current.status is OrderStatus.PENDING_NEW:
            changes["status"] = OrderStatus.NEW
        return self._cancel_if_requested(await self._commit(current.with_changes(**changes)))

    def _cancel_if_requested(self, order: Order) -> Order:
        """A cancel-all issued while this order was in flight reaches it once it is known."""
        if order.cl_ord_id in self._cancel_on_ack and order.is_open:
            self._spawn(self.cancel(order.cl_ord_id))
        return order

    async def _resolve(self, cl_ord_id: str) -> Order:
        """Ask the exchange what became of an order; see `LookupPolicy`."""
        policy, delay, absent = self._lookup, self._lookup.backoff_s, 0
        while True:
            try:
                found = await self._exchange.lookup_order(cl_ord_id)
            except Exception as exc:
                logger.warning("lookup of order {} failed ({}); retrying", cl_ord_id, exc)
                await asyncio.sleep(policy.max_backoff_s)
                continue
            current = self._orders[cl_ord_id]
            if found is not None:
                logger.info("order {} found on the exchange: {}", cl_ord_id, found.status)
                return await self._commit(self.merge_reported(current, found))
            if current.status is not OrderStatus.PENDING_NEW:
                return current
            absent += 1
            if absent >= policy.absent_checks:
                logger.warning("order {} never reached the exchange", cl_ord_id)
                self._presumed_absent.add(cl_ord_id)
                return await self._commit(
                    current.with_changes(status=OrderStatus.REJECTED, reason=NOT_RECEIVED)
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, policy.max_backoff_s)

    # -- cancelling --------------------------------------------------------------------------------

    async def cancel(self, cl_ord_id: str) -> bool:
        """Cancel one order; False (with a warning) when it is unknown or already final.

        A cancel asked while one for the same order is in flight (a strategy and the operator
        at once, a shutdown sweep) awaits that one and shares its answer: sending it again
        would spend the rate limit and come back as an unknown-order error."""
        in_flight = self._cancelling.get(cl_ord_id)
        if in_flight is None:
            in_flight = asyncio.ensure_future(self._cancel_once(cl_ord_id))
            self._cancelling[cl_ord_id] = in_flight
            in_flight.add_done_callback(lambda _: self._cancelling.pop(cl_ord_id, None))
        return await asyncio.shield(in_flight)

    async def _cancel_once(self, cl_ord_id: str) -> bool:
        order = self._orders.get(cl_ord_id)
        if order is None:
            logger.warning("cancel: no order {} is known", cl_ord_id)
            return False
        sending = self._sending.get(cl_ord_id)
        if sending is not None:
            await asyncio.shield(sending)
        order = self._orders[cl_ord_id]
        if not order.is_open:
            logger.info("cancel: order {} is already {}", cl_ord_id, order.status)
            return False
        previous = order
        self._set(order.with_changes(status=OrderStatus.PENDING_CANCEL))
        try:
            if order.external:
                cancelled = await self._exchange.cancel_order(order_id=order.order_id)
            else:
                cancelled = await self._exchange.cancel_order(cl_ord_id=cl_ord_id)
        except UnknownOrder:
            cancelled = False
        except (ExchangeError, OSError, TimeoutError) as exc:
            logger.error("cancel of order {} failed: {}", cl_ord_id, exc)
            current = self._orders[cl_ord_id]
            if current.status is OrderStatus.PENDING_CANCEL:
                self._set(current.with_changes(status=previous.status))
            return False
        if cancelled:
            current = self._orders[cl_ord_id]
            if current.is_open:
                await self._commit(
                    current.with_changes(status=OrderStatus.CANCELED, updated_at=self._clock.now())
                )
            return True
        logger.warning("cancel: exchange no longer knows order {}; looking it up", cl_ord_id)
        found = await self._exchange.lookup_order(cl_ord_id)
        if found is not None:
            await self._commit(self.merge_reported(self._orders[cl_ord_id], found))
        return False

    async def cancel_all(self) -> int:
        """Cancel every order on the account at once (kill switch, `cancel all` command);
        orders still being sent are cancelled as soon as they are acknowledged."""
        self._cancel_on_ack.update(self._sending)
        count = await self._exchange.cancel_all()
        for order in self._open:
            if order.status is not OrderStatus.PENDING_NEW:
                self._set(order.with_changes(status=OrderStatus.PENDING_CANCEL))
        logger.warning("cancel all: exchange cancelled {} orders", count)
        return count

    async def cancel_many(self, cl_ord_ids: list[str]) -> int:
        results = await asyncio.gather(*(self.cancel(c) for c in cl_ord_ids))
        return sum(results)

    async def amend(
        self, cl_ord_id: str, *, volume: Decimal | None = None, price: Decimal | None = None
    ) -> bool:
        """Amend an open order in place (`volume` is the new total). A refusal leaves the
        order as it was; it is logged with the exchange's reason and told to the
        `on_amend_refused` listeners. An order still being sent is amended once acknowledged,
        as `cancel` does: before that the exchange may not know it yet."""
        sending = self._sending.get(cl_ord_id)
        if sending is not None:
            await asyncio.shield(sending)
        order = self._orders.get(cl_ord_id)
        if order is None or not order.is_open:
            logger.warning("amend: order {} is unknown or final", cl_ord_id)
            return False
        try:
            await self._exchange.amend_order(
                cl_ord_id=None if order.external else cl_ord_id,
                order_id=order.order_id if order.external else None,
                volume=volume,
                price=price,
            )
        except ExchangeError as exc:
            reason = exc.kraken_error or str(exc)
            logger.warning("amend of order {} refused: {}", cl_ord_id, reason)
            for listener in self._amend_refused_listeners:
                listener(self._orders[cl_ord_id], reason)
            return False
        changes: dict[str, object] = {"updated_at": self._clock.now()}
        if volume is not None:
            changes["volume"] = volume
        if price is not None:
            changes["price"] = price
        await self._commit(self._orders[cl_ord_id].with_changes(**changes))
        return True

    # -- exchange reports --------------------------------------------------------------------------

    def on_order_update(self, update: OrderUpdate) -> Order | None:
        """Apply one exchange report; orders we do not know are adopted as external."""
        order = self.find(cl_ord_id=update.cl_ord_id, order_id=update.order_id)
        if order is None:
            return self._adopt_from_update(update)
        merged = self._merge(
            order,
            status=update.status,
            filled=update.filled,
            avg_price=update.avg_price,
            order_id=update.order_id,
            reason=update.reason,
            ts=update.ts,
            quote_volume=update.order.quote_volume if update.order is not None else None,
        )
        if merged is order:
            return order
        if merged.status is OrderStatus.CANCELED and order.status is not OrderStatus.CANCELED:
            # an exchange-side cancel (e.g. a post-only order that would have crossed) is an
            # ordinary end of the order, not an error: say why
            logger.info("order {} canceled: {}", merged.cl_ord_id, merged.reason or "no reason")
        self._store.orders.queue_update(merged)
        return self._set(merged)

    async def on_execution(self, execution: Execution) -> bool:
        """Store the fill; True when it is new (and so must move positions)."""
        return await self._store.executions.insert_if_new(execution)

    def strategy_of(self, execution: Execution) -> str | None:
        order = self.find(cl_ord_id=execution.cl_ord_id, order_id=execution.order_id)
        return order.strategy if order is not None else None

    def _adopt_from_update(self, update: OrderUpdate) -> Order | None:
        if update.order is None:
            logger.warning(
                "update for unknown order {} ({}) without details; reconciliation will adopt it",
                update.order_id,
                update.status,
            )
            return None
        order = self.adopt(update.order)
        self._spawn(self._store_adopted(order))
        return order

    async def _store_adopted(self, order: Order) -> None:
        try:
            await self._store.orders.adopt(order)
        except StoreError as exc:
            logger.error("could not store adopted order {}: {}", order.cl_ord_id, exc)

    def adopt(self, order: Order) -> Order:
        """Track an order the exchange has and we did not place (or no longer remember)."""
        cl_ord_id = order.cl_ord_id or f"ext-{order.order_id}"
        adopted = order.with_changes(cl_ord_id=cl_ord_id, external=True)
        logger.warning(
            "adopting external order {} ({} {})",
            adopted.order_id,
            size_text(adopted),
            adopted.status,
        )
        return self._set(adopted)

    def load(self, order: Order) -> Order:
        """Track a stored order as is (startup, after reconciliation)."""
        return self._set(order)

    # -- state machine -----------------------------------------------------------------------------

    def merge_reported(self, current: Order, reported: Order) -> Order:
        """`current` moved forward by the exchange's view of the same order (not tracked)."""
        return self._merge(
            current,
            status=reported.status,
            filled=reported.filled,
            avg_price=reported.avg_price,
            order_id=reported.order_id,
            reason=reported.reason,
            ts=reported.updated_at,
            fees=reported.fees,
            quote_volume=reported.quote_volume,
        )

    def _merge(
        self,
        order: Order,
        *,
        status: OrderStatus,
        filled: Decimal,
        avg_price: Decimal | None,
        order_id: str | None,
        reason: str | None,
        ts: datetime | None,
        fees: Decimal | None = None,
        quote_volume: Decimal | None = None,
    ) -> Order:
        """The order after an exchange report, moving only forward. A report that the order
        is sized in quote is taken when we lacked it (a row stored before quote sizing was
        recorded): without it a zero base volume would read as a negative remaining."""
        revived = order.cl_ord_id in self._presumed_absent
        if revived:
            self._presumed_absent.discard(order.cl_ord_id)
            logger.warning("order {} reported by the exchange after all", order.cl_ord_id)
        new_status = order.status
        if revived or not order.status.is_final:
            if status.is_final or _FORWARD.get(status, 0) >= _FORWARD.get(order.status, 0):
                new_status = status
            if order.status is OrderStatus.PENDING_CANCEL and status is OrderStatus.NEW:
                new_status = OrderStatus.PENDING_CANCEL
        changes: dict[str, object] = {}
        if new_status is not order.status:
            changes["status"] = new_status
        if filled > order.filled:
            changes["filled"] = filled
            if avg_price is not None:
                changes["avg_price"] = avg_price
        if order_id and order.order_id != order_id:
            changes["order_id"] = order_id
        if reason and new_status in (
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
            OrderStatus.CANCELED,
        ):
            changes["reason"] = reason
        if fees is not None and fees > order.fees:
            changes["fees"] = fees
        if quote_volume is not None and order.quote_volume is None:
            changes["quote_volume"] = quote_volume
        if not changes:
            return order
        changes["updated_at"] = ts or self._clock.now()
        return order.with_changes(**changes)

    def _current(self, order: Order) -> Order:
        return self._orders.get(order.cl_ord_id, order)

    async def _commit(self, order: Order) -> Order:
        """Track and durably store a transition."""
        self._set(order)
        try:
            await self._store.orders.update(order)
        except StoreError as exc:
            logger.error("could not store order {}: {}", order.cl_ord_id, exc)
        return order

    def _set(self, order: Order) -> Order:
        previous = self._orders.get(order.cl_ord_id)
        self._orders[order.cl_ord_id] = order
        if order.order_id:
            self._by_order_id[order.order_id] = order.cl_ord_id
        if previous is None or previous.is_open != order.is_open or order.is_open:
            self._open = tuple(o for o in self._orders.values() if o.is_open)
        if not order.is_open:
            self._cancel_on_ack.discard(order.cl_ord_id)
            self._forget_old_final()
        for listener in self._listeners:
            listener(order)
        return order

    def _forget_old_final(self) -> None:
        final = [c for c, o in self._orders.items() if not o.is_open]
        for cl_ord_id in final[: max(0, len(final) - _KEEP_FINAL_ORDERS)]:
            order = self._orders.pop(cl_ord_id)
            if order.order_id:
                self._by_order_id.pop(order.order_id, None)

    def _spawn(self, coroutine: Coroutine[Any, Any, object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Let in-flight sends and background work finish (shutdown). Whatever is still
        unresolved after `timeout_s` (an unreachable exchange) is abandoned: its row stays
        `pending_new` and startup reconciliation resolves it, so nothing is guessed."""
        pending = [*self._sending.values(), *self._tasks]
        if not pending:
            return
        _, unfinished = await asyncio.wait(pending, timeout=timeout_s)
        for task in unfinished:
            task.cancel()
        if unfinished:
            logger.warning(
                "{} order requests still unresolved at shutdown; reconciliation resolves them "
                "at the next start",
                len(unfinished),
            )
            await asyncio.gather(*unfinished, return_exceptions=True)
