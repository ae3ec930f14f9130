"""Equity snapshots: the equity curve and the peak that drawdown limits are measured from."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kraken_tui.store.codec import datetime_to_text, decimal_to_text, text_to_datetime
from kraken_tui.store.database import Database
from kraken_tui.store.writer import BatchingWriter


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    ts: datetime
    equity: Decimal
    peak: Decimal
    drawdown: Decimal


_INSERT = "INSERT INTO equity_snapshots (ts, equity, peak, drawdown) VALUES (?, ?, ?, ?)"
_SELECT = "SELECT ts, equity, peak, drawdown FROM equity_snapshots"


class EquityRepository:
    def __init__(self, database: Database, writer: BatchingWriter) -> None:
        self._database = database
        self._writer = writer

    def queue(self, snapshot: EquitySnapshot) -> None:
        """Droppable: when the disk falls behind, the next snapshot supersedes this one."""
        self._writer.submit(_INSERT, _params(snapshot), droppable=True)

    async def insert(self, snapshot: EquitySnapshot) -> None:
        await self._database.execute(_INSERT, _params(snapshot))

    async def latest(self) -> EquitySnapshot | None:
        row = await self._database.fetch_one(f"{_SELECT} ORDER BY ts DESC, id DESC LIMIT 1")
        return None if row is None else _snapshot_from_row(row)

    async def since(self, ts: datetime) -> list[EquitySnapshot]:
        rows = await self._database.fetch_all(
            f"{_SELECT} WHERE ts >= ? ORDER BY ts, id", (datetime_to_text(ts),)
        )
        return [_snapshot_from_row(row) for row in rows]


def _params(snapshot: EquitySnapshot) -> tuple[str, str, str, str]:
    return (
        datetime_to_text(snapshot.ts),
        decimal_to_text(snapshot.equity),
        decimal_to_text(snapshot.peak),
        decimal_to_text(snapshot.drawdown),
    )


def _snapshot_from_row(row: sqlite3.Row) -> EquitySnapshot:
    return EquitySnapshot(
        ts=text_to_datetime(row["ts"]),
        equity=Decimal(row["equity"]),
        peak=Decimal(row["peak"]),
        drawdown=Decimal(row["drawdown"]),
    )
