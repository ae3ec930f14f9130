"""Parameter sweeps: one backtest per point of a grid, spread over worker processes.

Workers are started with `spawn` (no fork of a process that may hold threads, an event loop
or open SQLite connections) and each loads the bars once, in its initializer, from a
`DataSpec` (a file path and range, or a frame for tests): shipping a year of bars with every
task would cost more than the backtest. Every point's parameters are validated in the parent
before anything starts, so a typo fails at once with the parameter's name, not after an hour.
Results come back as metrics plus a ready-to-store `BacktestRun`; the parent ranks them.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import polars as pl
from loguru import logger

from kraken_tui.backtest.data import Bars, interval_from_filename, load_ohlcvt, load_trades
from kraken_tui.backtest.engine import (
    BacktestConfig,
    Backtester,
    BacktestSetupError,
    StrategyFailedError,
    strategy_class,
    validated_params,
)
from kraken_tui.backtest.report import Metrics, backtest_run, compute_metrics
from kraken_tui.backtest.trade_tape import TradeTape
from kraken_tui.store import BacktestRun

HIGHER_IS_BETTER: Mapping[str, bool] = {
    "sharpe": True,
    "sortino": True,
    "total_return": True,
    "annualized_return": True,
    "final_equity": True,
    "profit_factor": True,
    "win_rate": True,
    "max_drawdown": False,
    "trade_count": True,
    "exposure": True,
}
"""Metrics a sweep can rank by, and which direction is better."""


class SweepError(ValueError):
    """A grid that cannot run: bad `name=a,b,c` syntax, or an unknown ranking metric."""


@dataclass(frozen=True, slots=True)
class DataSpec:
    """Where a worker finds the data: a Kraken OHLCVT file (with its range and resampling), a
    time-and-sales file replayed trade by trade (`trades`, candles of `resample_to` or
    `interval` minutes), or, for small in-memory bars, the frame itself."""

    path: Path | None = None
    start: datetime | None = None
    end: datetime | None = None
    resample_to: int | None = None
    cache_dir: Path | None = None
    frame: pl.DataFrame | None = None
    interval: int | None = None
    """Bar minutes of the frame or the OHLCVT file (default: 1, or the file's name), or of
    the candles built from trades (default: 1)."""
    trades: bool = False

    def load(self) -> Bars | TradeTape:
        if self.frame is not None:
            return Bars(self.frame, self.interval or 1)
        if self.path is None:
            raise ValueError("a DataSpec needs a path or a frame")
        if self.trades:
            frame = load_trades(self.path, start=self.start, end=self.end, cache_dir=self.cache_dir)
            return TradeTape(frame, self.resample_to or self.interval or 1)
        return load_ohlcvt(
            self.path,
            interval=self.interval,
            start=self.start,
            end=self.end,
            resample_to=self.resample_to,
            cache_dir=self.cache_dir,
        )

    @property
    def bar_interval(self) -> int:
        """Minutes of the candles the strategy will see, known without loading the data."""
        named = None if self.path is None or self.trades else interval_from_filename(self.path)
        return self.resample_to or self.interval or named or 1

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else "in-memory bars"


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    params: dict[str, Any]
    """The swept values of this point (as given on the command line)."""
    metrics: Metrics | None
    run: BacktestRun | None
    error: str | None = None

    def score(self, metric: str) -> float | None:
        if self.metrics is None:
            return None
        value = getattr(self.metrics, metric)
        return None if value is None else float(value)


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """`["fast=5,10", "slow=20,30"]` → {"fast": ["5", "10"], "slow": ["20", "30"]}; values stay
    text for the strategy's parameter model to validate and convert."""
    grid: dict[str, list[str]] = {}
    for item in items:
        name, separator, values = item.partition("=")
        name = name.strip()
        choices = [value.strip() for value in values.split(",") if value.strip()]
        if not separator or not name or not choices:
            raise SweepError(f"--sweep {item!r} must look like name=a,b,c")
        if name in grid:
            raise SweepError(f"--sweep names {name!r} twice")
        grid[name] = choices
    return grid


def grid_points(grid: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def check_metric(metric: str) -> None:
    if metric not in HIGHER_IS_BETTER:
        known = ", ".join(sorted(HIGHER_IS_BETTER))
        raise SweepError(f"cannot rank by {metric!r}; choose one of {known}")


def rank(outcomes: Sequence[SweepOutcome], metric: str) -> list[SweepOutcome]:
    """Best first by `metric`; points without a value (failed, or undefined metric) last.
    An infinite profit factor ranks above every finite one."""
    check_metric(metric)
    better_high = HIGHER_IS_BETTER[metric]

    def key(outcome: SweepOutcome) -> tuple[int, float]:
        score = outcome.score(metric)
        if score is None or math.isnan(score):
            return (1, 0.0)
        return (0, -score if better_high else score)

    return sorted(outcomes, key=key)


def run_sweep(
    base: BacktestConfig,
    data: DataSpec,
    grid: Mapping[str, Sequence[str]],
    *,
    workers: int | None = None,
    on_done: Callable[[SweepOutcome], None] | None = None,
) -> list[SweepOutcome]:
    """Run every grid point (each on top of `base.params`) in parallel; unranked, in the
    order they finished. Raises BacktestSetupError before starting if any point is invalid."""
    points = grid_points(grid)
    cls = strategy_class(base.strategy, base.strategy_dir)
    bars_interval = data.bar_interval
    configs = []
    for point in points:
        config = replace(base, params={**base.params, **point})
        validated_params(cls, config.params, bars_interval, base.strategy)
        configs.append((point, config))
    count = min(len(configs), workers or os.cpu_count() or 1)
    outcomes: list[SweepOutcome] = []
    with ProcessPoolExecutor(
        max_workers=count,
        mp_context=get_context("spawn"),
        initializer=_load_worker_bars,
        initargs=(data,),
    ) as pool:
        futures = [pool.submit(_run_point, config, point, data.label) for point, config in configs]
        for future in as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            if on_done is not None:
                on_done(outcome)
    return outcomes


# -- inside the worker processes -----------------------------------------------------------------

_worker_bars: Bars | TradeTape | None = None


def _load_worker_bars(data: DataSpec) -> None:
    global _worker_bars
    logger.remove()  # workers stay quiet; the parent reports
    _worker_bars = data.load()


def _run_point(config: BacktestConfig, swept: dict[str, str], data_label: str) -> SweepOutcome:
    if _worker_bars is None:
        raise RuntimeError("sweep worker started without its bars")
    try:
        result = Backtester(config, _worker_bars).run()
    except (BacktestSetupError, StrategyFailedError) as error:
        return SweepOutcome(swept, None, None, str(error))
    metrics = compute_metrics(result)
    return SweepOutcome(swept, metrics, backtest_run(result, metrics, data_label))
