"""Helpers of the backtest tests (imported by name: pytest puts this directory on sys.path):
hand-written bars for tests that need exact prices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl

from kraken_tui.backtest.data import BAR_SCHEMA, Bars
from kraken_tui.sandbox.fees import FeeSchedule

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
NO_FEES = FeeSchedule(maker=Decimal(0), taker=Decimal(0))


def bars_from(rows: list[tuple[float, float, float, float]], volume: float = 5.0) -> Bars:
    """1-minute bars from (open, high, low, close) rows, starting at T0."""
    frame = pl.DataFrame(
        {
            "ts": [T0 + MINUTE * i for i in range(len(rows))],
            "open": [r[0] for r in rows],
            "high": [r[1] for r in rows],
            "low": [r[2] for r in rows],
            "close": [r[3] for r in rows],
            "volume": [volume] * len(rows),
            "trades": [10] * len(rows),
        },
        schema=BAR_SCHEMA,
    )
    return Bars(frame, 1)
