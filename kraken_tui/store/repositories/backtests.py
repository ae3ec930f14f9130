"""Backtest runs: parameters and metrics, so results can be compared across runs."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kraken_tui.store.codec import (
    datetime_to_text,
    from_json,
    optional_datetime_to_text,
    optional_text_to_datetime,
    text_to_datetime,
    to_json,
)
from kraken_tui.store.database import Database


@dataclass(frozen=True, slots=True)
class BacktestRun:
    created_at: datetime
    strategy: str
    symbol: str
    data_path: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    range_start: datetime | None = None
    range_end: datetime | None = None
    id: int | None = None


_SELECT = (
    "SELECT id, created_at, strategy, symbol, params, data_path, range_start, range_end, "
    "metrics FROM backtest_runs"
)


class BacktestRunRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def insert(self, run: BacktestRun) -> int:
        return await self._database.insert(
            "INSERT INTO backtest_runs (created_at, strategy, symbol, params, data_path, "
            "range_start, range_end, metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                datetime_to_text(run.created_at),
                run.strategy,
                run.symbol,
                to_json(run.params),
                run.data_path,
                optional_datetime_to_text(run.range_start),
                optional_datetime_to_text(run.range_end),
                to_json(run.metrics),
            ),
        )

    async def get(self, run_id: int) -> BacktestRun | None:
        row = await self._database.fetch_one(f"{_SELECT} WHERE id = ?", (run_id,))
        return None if row is None else _run_from_row(row)

    async def recent(self, limit: int = 50, strategy: str | None = None) -> list[BacktestRun]:
        """Newest first, optionally of one strategy."""
        if strategy is None:
            rows = await self._database.fetch_all(
                f"{_SELECT} ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)
            )
        else:
            rows = await self._database.fetch_all(
                f"{_SELECT} WHERE strategy = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                (strategy, limit),
            )
        return [_run_from_row(row) for row in rows]


def _run_from_row(row: sqlite3.Row) -> BacktestRun:
    return BacktestRun(
        id=row["id"],
        created_at=text_to_datetime(row["created_at"]),
        strategy=row["strategy"],
        symbol=row["symbol"],
        params=from_json(row["params"]),
        data_path=row["data_path"],
        range_start=optional_text_to_datetime(row["range_start"]),
        range_end=optional_text_to_datetime(row["range_end"]),
        metrics=from_json(row["metrics"]),
    )
