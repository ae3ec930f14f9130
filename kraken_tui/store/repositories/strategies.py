"""Strategies: configuration, run state and the state a strategy persists between runs."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kraken_tui.domain import StrategyState
from kraken_tui.store.codec import datetime_to_text, from_json, text_to_datetime, to_json
from kraken_tui.store.database import Database
from kraken_tui.store.errors import StoreError


@dataclass(frozen=True, slots=True)
class StrategyRecord:
    id: int
    name: str
    class_name: str
    params: dict[str, Any]
    state: StrategyState
    state_json: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


_SELECT = (
    "SELECT id, name, class, params, state, state_json, created_at, updated_at FROM strategies"
)


class StrategyRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def register(
        self,
        name: str,
        class_name: str,
        params: Mapping[str, Any],
        state: StrategyState,
        now: datetime,
    ) -> int:
        """Insert or refresh a configured strategy; its persisted `state_json` is kept, so a
        restarted strategy resumes where it stopped."""
        stamp = datetime_to_text(now)
        async with self._database.transaction() as connection:
            cursor = await connection.execute(
                "INSERT INTO strategies (name, class, params, state, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET class = excluded.class, "
                "params = excluded.params, state = excluded.state, "
                "updated_at = excluded.updated_at "
                "RETURNING id",
                (name, class_name, to_json(dict(params)), state.value, stamp, stamp),
            )
            row = await cursor.fetchone()
        if row is None:
            raise StoreError(f"strategy {name}: upsert returned no id")
        return int(row[0])

    async def set_state(self, name: str, state: StrategyState, now: datetime) -> None:
        await self._update(name, "state = ?", state.value, now)

    async def save_state_json(
        self, name: str, state_json: Mapping[str, Any], now: datetime
    ) -> None:
        await self._update(name, "state_json = ?", to_json(dict(state_json)), now)

    async def get(self, name: str) -> StrategyRecord | None:
        row = await self._database.fetch_one(f"{_SELECT} WHERE name = ?", (name,))
        return None if row is None else _record_from_row(row)

    async def all(self) -> list[StrategyRecord]:
        rows = await self._database.fetch_all(f"{_SELECT} ORDER BY name")
        return [_record_from_row(row) for row in rows]

    async def _update(self, name: str, assignment: str, value: object, now: datetime) -> None:
        rowcount = await self._database.execute(
            f"UPDATE strategies SET {assignment}, updated_at = ? WHERE name = ?",
            (value, datetime_to_text(now), name),
        )
        if rowcount == 0:
            raise StoreError(f"no stored strategy named {name}")


def _record_from_row(row: sqlite3.Row) -> StrategyRecord:
    return StrategyRecord(
        id=row["id"],
        name=row["name"],
        class_name=row["class"],
        params=from_json(row["params"]),
        state=StrategyState(row["state"]),
        state_json=None if row["state_json"] is None else from_json(row["state_json"]),
        created_at=text_to_datetime(row["created_at"]),
        updated_at=text_to_datetime(row["updated_at"]),
    )
