"""Orders: the write-ahead record that makes a crash between "send" and "ack" recoverable."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from kraken_tui.domain import Order, OrderStatus, OrderType, Side, TimeInForce
from kraken_tui.store.codec import (
    datetime_to_text,
    decimal_to_text,
    optional_decimal_to_text,
    optional_text_to_decimal,
    text_to_datetime,
    text_to_decimal,
)
from kraken_tui.store.database import Database
from kraken_tui.store.errors import DuplicateOrderError, StoreError, UnknownOrderError
from kraken_tui.store.writer import BatchingWriter

_COLUMNS = (
    "cl_ord_id, order_id, strategy, symbol, side, type, price, trigger_price, volume, "
    "time_in_force, post_only, status, filled, avg_price, fees, reason, external, "
    "created_at, updated_at, quote_volume"
)
_INSERT = f"INSERT INTO orders ({_COLUMNS}) VALUES ({', '.join('?' * 20)})"
_UPDATE = (
    "UPDATE orders SET order_id = ?, status = ?, filled = ?, avg_price = ?, fees = ?, "
    "reason = ?, price = ?, trigger_price = ?, volume = ?, quote_volume = ?, updated_at = ? "
    "WHERE cl_ord_id = ?"
)
_SELECT = f"SELECT {_COLUMNS} FROM orders"
_NON_FINAL = tuple(status.value for status in OrderStatus if not status.is_final)


class OrderRepository:
    def __init__(self, database: Database, writer: BatchingWriter) -> None:
        self._database = database
        self._writer = writer

    async def insert_pending(self, order: Order) -> None:
        """The write-ahead: await this (it commits) BEFORE the order is sent. After a crash the
        row tells reconciliation to look the order up by `cl_ord_id` instead of resending it."""
        if order.status is not OrderStatus.PENDING_NEW:
            raise StoreError(
                f"order {order.cl_ord_id}: the write-ahead row must be pending_new, "
                f"not {order.status}"
            )
        await self._insert(order)

    async def adopt(self, order: Order) -> None:
        """Store an order found on the exchange that we have no row for (reconciliation)."""
        await self._insert(order.with_changes(external=True))

    async def update(self, order: Order) -> None:
        """Commit the order's latest state now (for transitions the engine must not lose)."""
        rowcount = await self._database.execute(_UPDATE, _update_params(order))
        if rowcount == 0:
            raise UnknownOrderError(f"no stored order with cl_ord_id {order.cl_ord_id}")

    def queue_update(self, order: Order) -> None:
        """Record the order's latest state through the batching writer (hot path). Losing it in
        a crash is safe: reconciliation re-reads the order's state from the exchange."""
        self._writer.submit(_UPDATE, _update_params(order))

    async def by_cl_ord_id(self, cl_ord_id: str) -> Order | None:
        row = await self._database.fetch_one(f"{_SELECT} WHERE cl_ord_id = ?", (cl_ord_id,))
        return None if row is None else _order_from_row(row)

    async def by_order_id(self, order_id: str) -> Order | None:
        row = await self._database.fetch_one(f"{_SELECT} WHERE order_id = ?", (order_id,))
        return None if row is None else _order_from_row(row)

    async def non_final(self) -> list[Order]:
        """Orders whose outcome is not known for sure: what startup reconciliation checks."""
        placeholders = ", ".join("?" * len(_NON_FINAL))
        rows = await self._database.fetch_all(
            f"{_SELECT} WHERE status IN ({placeholders}) ORDER BY created_at, id", _NON_FINAL
        )
        return [_order_from_row(row) for row in rows]

    async def recent(self, limit: int = 100) -> list[Order]:
        """Newest first."""
        rows = await self._database.fetch_all(
            f"{_SELECT} ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)
        )
        return [_order_from_row(row) for row in rows]

    async def _insert(self, order: Order) -> None:
        try:
            await self._database.execute(_INSERT, _insert_params(order))
        except sqlite3.IntegrityError as exc:
            if "cl_ord_id" in str(exc) or "order_id" in str(exc):
                raise DuplicateOrderError(
                    f"order {order.cl_ord_id} (txid {order.order_id}) is already stored"
                ) from exc
            raise


def _require_time(order: Order, value: datetime | None, field: str) -> str:
    if value is None:
        raise StoreError(f"order {order.cl_ord_id}: {field} is required to store it")
    return datetime_to_text(value)


def _insert_params(order: Order) -> tuple[object, ...]:
    created_at = _require_time(order, order.created_at, "created_at")
    return (
        order.cl_ord_id,
        order.order_id,
        order.strategy,
        order.symbol,
        order.side.value,
        order.order_type.value,
        optional_decimal_to_text(order.price),
        optional_decimal_to_text(order.trigger_price),
        decimal_to_text(order.volume),
        order.time_in_force.value,
        int(order.post_only),
        order.status.value,
        decimal_to_text(order.filled),
        optional_decimal_to_text(order.avg_price),
        decimal_to_text(order.fees),
        order.reason,
        int(order.external),
        created_at,
        datetime_to_text(order.updated_at) if order.updated_at is not None else created_at,
        optional_decimal_to_text(order.quote_volume),
    )


def _update_params(order: Order) -> tuple[object, ...]:
    return (
        order.order_id,
        order.status.value,
        decimal_to_text(order.filled),
        optional_decimal_to_text(order.avg_price),
        decimal_to_text(order.fees),
        order.reason,
        optional_decimal_to_text(order.price),
        optional_decimal_to_text(order.trigger_price),
        decimal_to_text(order.volume),
        optional_decimal_to_text(order.quote_volume),
        _require_time(order, order.updated_at, "updated_at"),
        order.cl_ord_id,
    )


def _order_from_row(row: sqlite3.Row) -> Order:
    return Order(
        cl_ord_id=row["cl_ord_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        order_type=OrderType(row["type"]),
        volume=text_to_decimal(row["volume"]),
        status=OrderStatus(row["status"]),
        price=optional_text_to_decimal(row["price"]),
        trigger_price=optional_text_to_decimal(row["trigger_price"]),
        time_in_force=TimeInForce(row["time_in_force"]),
        post_only=bool(row["post_only"]),
        order_id=row["order_id"],
        filled=text_to_decimal(row["filled"]),
        avg_price=optional_text_to_decimal(row["avg_price"]),
        fees=text_to_decimal(row["fees"]),
        strategy=row["strategy"],
        reason=row["reason"],
        external=bool(row["external"]),
        created_at=text_to_datetime(row["created_at"]),
        updated_at=text_to_datetime(row["updated_at"]),
        quote_volume=optional_text_to_decimal(row["quote_volume"]),
    )
