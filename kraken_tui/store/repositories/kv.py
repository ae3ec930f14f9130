"""Small engine state that must survive a restart (kill-switch state, last execution seen, ...),
stored as JSON under a key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kraken_tui.store.codec import datetime_to_text, from_json, to_json
from kraken_tui.store.database import Database
from kraken_tui.store.writer import BatchingWriter

_SET = (
    "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)


class KeyValueRepository:
    def __init__(self, database: Database, writer: BatchingWriter) -> None:
        self._database = database
        self._writer = writer

    async def get(self, key: str, default: Any = None) -> Any:
        row = await self._database.fetch_one("SELECT value FROM kv WHERE key = ?", (key,))
        return default if row is None else from_json(row["value"])

    async def set(self, key: str, value: Any, now: datetime) -> None:
        """Committed on return: use for state that must hold after a crash (kill switch)."""
        await self._database.execute(_SET, (key, to_json(value), datetime_to_text(now)))

    def queue_set(self, key: str, value: Any, now: datetime) -> None:
        """Through the batching writer, for frequently updated hints (last execution seen)."""
        self._writer.submit(_SET, (key, to_json(value), datetime_to_text(now)))

    async def delete(self, key: str) -> None:
        await self._database.execute("DELETE FROM kv WHERE key = ?", (key,))
