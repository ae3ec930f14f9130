"""Bars for the ML tests: a random walk, optionally with a planted, learnable pattern
(imported by name: pytest puts this directory on sys.path).

Both kinds come from the same generator with constant volatility, so the only difference
between the control and the planted market is the pattern itself: one-bar log returns follow
r[t] = phi * r[t-1] + sigma * e[t]. With phi > 0 a rise tends to be followed by more rise,
which the `ret_1` feature can see; with phi = 0 nothing is predictable.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from kraken_tui.backtest.data import BAR_SCHEMA, Bars

START = datetime(2025, 6, 2, tzinfo=UTC)
BARS = 4000
PLANTED_PHI = 0.3
FEE_RATE = 0.0005
"""Fee per side in the pipeline tests: small enough that the planted edge can pay for it."""
HORIZON = 3


def autoregressive_bars(
    n: int, *, phi: float, seed: int, sigma: float = 0.002, start: datetime = START
) -> Bars:
    """`n` one-minute bars whose log returns are AR(1) with coefficient `phi`."""
    rng = np.random.default_rng(seed)
    shocks = sigma * rng.standard_normal(n)
    returns = np.empty(n)
    previous = 0.0
    for i in range(n):
        previous = phi * previous + shocks[i]
        returns[i] = previous
    close = np.round(40_000.0 * np.exp(np.cumsum(returns)), 1)
    open_ = np.concatenate(([40_000.0], close[:-1]))
    wiggle = np.abs(rng.standard_normal((2, n))) * sigma * 0.3
    high = np.round(np.maximum(open_, close) * (1.0 + wiggle[0]), 1)
    low = np.round(np.minimum(open_, close) * (1.0 - wiggle[1]), 1)
    volume = np.round(rng.lognormal(0.0, 0.5, n), 8)
    micros = int(start.timestamp()) * 1_000_000 + 60_000_000 * np.arange(n, dtype=np.int64)
    frame = pl.DataFrame(
        {
            "ts": pl.Series(micros).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "trades": rng.integers(4, 40, n),
        }
    )
    return Bars(frame.cast(dict(BAR_SCHEMA)), 1)
