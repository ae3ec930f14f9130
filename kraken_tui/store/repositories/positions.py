"""Portfolios and the latest state of their positions."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from kraken_tui.domain import Position
from kraken_tui.store.codec import (
    datetime_to_text,
    decimal_to_text,
    optional_datetime_to_text,
    optional_text_to_datetime,
    text_to_decimal,
)
from kraken_tui.store.database import Database
from kraken_tui.store.errors import StoreError
from kraken_tui.store.writer import BatchingWriter

# strategy '' is the account-level position (Position.strategy None): NULL would defeat the
# UNIQUE (portfolio_id, symbol, strategy) key the upsert relies on.
_UPSERT = (
    "INSERT INTO positions (portfolio_id, symbol, strategy, qty, avg_price, realized_pnl, fees, "
    "opened_at, closed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (portfolio_id, symbol, strategy) DO UPDATE SET qty = excluded.qty, "
    "avg_price = excluded.avg_price, realized_pnl = excluded.realized_pnl, "
    "fees = excluded.fees, opened_at = excluded.opened_at, closed_at = excluded.closed_at, "
    "updated_at = excluded.updated_at"
)


class PositionRepository:
    def __init__(self, database: Database, writer: BatchingWriter) -> None:
        self._database = database
        self._writer = writer

    async def ensure_portfolio(self, name: str, base_ccy: str, now: datetime) -> int:
        """The portfolio's id, creating it on first use."""
        async with self._database.transaction() as connection:
            await connection.execute(
                "INSERT INTO portfolios (name, base_ccy, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (name, base_ccy, datetime_to_text(now)),
            )
            cursor = await connection.execute("SELECT id FROM portfolios WHERE name = ?", (name,))
            row = await cursor.fetchone()
        if row is None:
            raise StoreError(f"portfolio {name} vanished while being created")
        return int(row[0])

    async def upsert(self, portfolio_id: int, position: Position, now: datetime) -> None:
        await self._database.execute(_UPSERT, _params(portfolio_id, position, now))

    def queue_upsert(self, portfolio_id: int, position: Position, now: datetime) -> None:
        """Hot path: positions are rebuilt from stored executions, so a lost snapshot is safe."""
        self._writer.submit(_UPSERT, _params(portfolio_id, position, now))

    async def for_portfolio(self, portfolio_id: int) -> list[Position]:
        rows = await self._database.fetch_all(
            "SELECT symbol, strategy, qty, avg_price, realized_pnl, fees, opened_at "
            "FROM positions WHERE portfolio_id = ? ORDER BY symbol, strategy",
            (portfolio_id,),
        )
        return [_position_from_row(row) for row in rows]


def _params(portfolio_id: int, position: Position, now: datetime) -> tuple[object, ...]:
    stamp = datetime_to_text(now)
    return (
        portfolio_id,
        position.symbol,
        position.strategy or "",
        decimal_to_text(position.qty),
        decimal_to_text(position.avg_price),
        decimal_to_text(position.realized_pnl),
        decimal_to_text(position.fees),
        optional_datetime_to_text(position.opened_at),
        stamp if position.is_flat else None,
        stamp,
    )


def _position_from_row(row: sqlite3.Row) -> Position:
    return Position(
        symbol=row["symbol"],
        qty=text_to_decimal(row["qty"]),
        avg_price=text_to_decimal(row["avg_price"]),
        realized_pnl=text_to_decimal(row["realized_pnl"]),
        fees=text_to_decimal(row["fees"]),
        strategy=row["strategy"] or None,
        opened_at=optional_text_to_datetime(row["opened_at"]),
    )
