"""Executions (fills): stored once each, keyed by the exchange's trade id."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from kraken_tui.domain import Execution, Liquidity, Side
from kraken_tui.store.codec import (
    datetime_to_text,
    decimal_to_text,
    text_to_datetime,
    text_to_decimal,
)
from kraken_tui.store.database import Database

_COLUMNS = "exec_id, order_id, cl_ord_id, symbol, side, price, qty, fee, fee_ccy, liquidity, ts"
_INSERT_IF_NEW = (
    f"INSERT INTO executions ({_COLUMNS}) VALUES ({', '.join('?' * 11)}) "
    "ON CONFLICT (exec_id) DO NOTHING"
)
_SELECT = f"SELECT {_COLUMNS} FROM executions"


class ExecutionRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def insert_if_new(self, execution: Execution) -> bool:
        """True if this fill was new. The same fill arrives from the live feed, from a snapshot
        after reconnecting and from reconciliation; only the first one may move a position."""
        rowcount = await self._database.execute(_INSERT_IF_NEW, _params(execution))
        return rowcount == 1

    async def by_exec_id(self, exec_id: str) -> Execution | None:
        row = await self._database.fetch_one(f"{_SELECT} WHERE exec_id = ?", (exec_id,))
        return None if row is None else _execution_from_row(row)

    async def for_order(self, order_id: str) -> list[Execution]:
        rows = await self._database.fetch_all(
            f"{_SELECT} WHERE order_id = ? ORDER BY ts, id", (order_id,)
        )
        return [_execution_from_row(row) for row in rows]

    async def since(self, ts: datetime | None = None) -> list[Execution]:
        """Fills in time order (all of them when `ts` is None): rebuilds positions at start."""
        if ts is None:
            rows = await self._database.fetch_all(f"{_SELECT} ORDER BY ts, id")
        else:
            rows = await self._database.fetch_all(
                f"{_SELECT} WHERE ts >= ? ORDER BY ts, id", (datetime_to_text(ts),)
            )
        return [_execution_from_row(row) for row in rows]

    async def recent(self, limit: int = 100) -> list[Execution]:
        """Newest first."""
        rows = await self._database.fetch_all(
            f"{_SELECT} ORDER BY ts DESC, id DESC LIMIT ?", (limit,)
        )
        return [_execution_from_row(row) for row in rows]


def _params(execution: Execution) -> tuple[object, ...]:
    return (
        execution.exec_id,
        execution.order_id,
        execution.cl_ord_id,
        execution.symbol,
        execution.side.value,
        decimal_to_text(execution.price),
        decimal_to_text(execution.qty),
        decimal_to_text(execution.fee),
        execution.fee_ccy,
        execution.liquidity.value,
        datetime_to_text(execution.ts),
    )


def _execution_from_row(row: sqlite3.Row) -> Execution:
    return Execution(
        exec_id=row["exec_id"],
        order_id=row["order_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        price=text_to_decimal(row["price"]),
        qty=text_to_decimal(row["qty"]),
        fee=text_to_decimal(row["fee"]),
        fee_ccy=row["fee_ccy"],
        liquidity=Liquidity(row["liquidity"]),
        ts=text_to_datetime(row["ts"]),
        cl_ord_id=row["cl_ord_id"],
    )
