"""The event log: what the engine did and why (risk denials, state changes, alerts), kept with
the trades so an operator can read a session back after the fact."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from kraken_tui.store.codec import datetime_to_text, text_to_datetime
from kraken_tui.store.database import Database
from kraken_tui.store.writer import BatchingWriter

Severity = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

_INSERT = "INSERT INTO event_log (ts, severity, source, message) VALUES (?, ?, ?, ?)"


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    ts: datetime
    severity: Severity
    source: str
    message: str


class EventLogRepository:
    def __init__(self, database: Database, writer: BatchingWriter) -> None:
        self._database = database
        self._writer = writer

    def queue(self, event: LoggedEvent) -> None:
        """Below ERROR an event may be dropped when the disk falls behind (the log files keep
        it); ERROR and CRITICAL are never dropped."""
        droppable = event.severity not in ("ERROR", "CRITICAL")
        self._writer.submit(_INSERT, _params(event), droppable=droppable)

    async def recent(self, limit: int = 200) -> list[LoggedEvent]:
        """Newest first."""
        rows = await self._database.fetch_all(
            "SELECT ts, severity, source, message FROM event_log ORDER BY ts DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [_event_from_row(row) for row in rows]


def _params(event: LoggedEvent) -> tuple[str, str, str, str]:
    return (datetime_to_text(event.ts), event.severity, event.source, event.message)


def _event_from_row(row: sqlite3.Row) -> LoggedEvent:
    return LoggedEvent(
        ts=text_to_datetime(row["ts"]),
        severity=row["severity"],
        source=row["source"],
        message=row["message"],
    )
