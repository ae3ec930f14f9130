"""What startup reconciliation changed, one row per decision, so a changed or adopted order can
always be explained afterwards."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from kraken_tui.store.codec import datetime_to_text, text_to_datetime
from kraken_tui.store.database import Database


@dataclass(frozen=True, slots=True)
class ReconciliationEntry:
    ts: datetime
    action: str
    cl_ord_id: str | None = None
    order_id: str | None = None
    detail: str = ""


class ReconciliationLogRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def record(self, entry: ReconciliationEntry) -> None:
        """Awaited, not batched: reconciliation runs before trading starts and its record must
        exist if it changed anything."""
        await self._database.execute(
            "INSERT INTO reconciliation_log (ts, cl_ord_id, order_id, action, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                datetime_to_text(entry.ts),
                entry.cl_ord_id,
                entry.order_id,
                entry.action,
                entry.detail,
            ),
        )

    async def recent(self, limit: int = 200) -> list[ReconciliationEntry]:
        """Newest first."""
        rows = await self._database.fetch_all(
            "SELECT ts, cl_ord_id, order_id, action, detail FROM reconciliation_log "
            "ORDER BY ts DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [_entry_from_row(row) for row in rows]


def _entry_from_row(row: sqlite3.Row) -> ReconciliationEntry:
    return ReconciliationEntry(
        ts=text_to_datetime(row["ts"]),
        action=row["action"],
        cl_ord_id=row["cl_ord_id"],
        order_id=row["order_id"],
        detail=row["detail"],
    )
