"""What `kraken-tui backtest` does: load, run (or sweep), report, export, store.

Kept apart from `cli_backtest` (the typer command) so that building the root CLI, which
creates every command's options at start-up, does not import the backtester, the sandbox
venue and rich's progress machinery; they load when a backtest actually runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from kraken_tui.backtest.data import DataError, default_cache_dir
from kraken_tui.backtest.engine import (
    DEFAULT_CASH,
    DEFAULT_STRATEGY_DIR,
    BacktestConfig,
    Backtester,
    BacktestSetupError,
    StrategyFailedError,
)
from kraken_tui.backtest.fill_model import FillModel
from kraken_tui.backtest.html_report import (
    report_from_result,
    with_report_series,
    write_report,
)
from kraken_tui.backtest.report import (
    ExportFormat,
    backtest_run,
    compute_metrics,
    export_run,
    render_report,
    store_runs,
)
from kraken_tui.backtest.sweep import (
    HIGHER_IS_BETTER,
    DataSpec,
    SweepError,
    SweepOutcome,
    check_metric,
    grid_points,
    parse_grid,
    rank,
    run_sweep,
)
from kraken_tui.sandbox.fees import FeeSchedule
from kraken_tui.store import StoreError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class ParamSyntaxError(ValueError):
    """A `--param` that is not `name=value`."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Everything besides the strategy and the data that shapes a run."""

    cash: Decimal = DEFAULT_CASH
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    fill: FillModel = field(default_factory=FillModel)
    resample_to: int | None = None
    trades: bool = False
    """`data` is a time-and-sales file, replayed trade by trade."""
    cache: bool = True
    strategy_dir: Path = DEFAULT_STRATEGY_DIR
    workers: int | None = None
    top: int = 10
    store: bool = True
    export_format: ExportFormat = "csv"
    report: Path | None = None
    """Where to write the run's self-contained HTML report (single runs, not sweeps)."""


def parse_param_items(items: Sequence[str]) -> dict[str, str]:
    """`["fast=10", "kind=ema"]` → {"fast": "10", "kind": "ema"}; the strategy's parameter
    model converts and validates the text."""
    params: dict[str, str] = {}
    for item in items:
        name, separator, value = item.partition("=")
        if not separator or not name.strip():
            raise ParamSyntaxError(f"--param {item!r} must look like name=value")
        params[name.strip()] = value.strip()
    return params


def run_backtest(
    strategy: str,
    data: Path,
    symbol: str,
    start: datetime | None = None,
    end: datetime | None = None,
    params: Sequence[str] = (),
    sweep: Sequence[str] = (),
    metric: str = "sharpe",
    out: Path | None = None,
    db: Path | None = None,
    options: RunOptions | None = None,
    console: Console | None = None,
) -> int:
    """Run the backtest (or sweep) and print its report; returns the process exit code."""
    options = options or RunOptions()
    console = console or Console()
    try:
        base = BacktestConfig(
            strategy=strategy,
            symbol=symbol,
            params=parse_param_items(params),
            cash=options.cash,
            fees=options.fees,
            fill=options.fill,
            strategy_dir=options.strategy_dir,
        )
        grid = parse_grid(sweep)
        if grid:
            check_metric(metric)
        spec = DataSpec(
            path=data,
            start=start,
            end=end,
            resample_to=options.resample_to,
            cache_dir=default_cache_dir() if options.cache else None,
            trades=options.trades,
        )
        replayed = spec.load()
        if grid:
            return _sweep(base, spec, grid, metric, db, out, options, console)
        result = Backtester(base, replayed).run()
    except (DataError, BacktestSetupError, SweepError, ParamSyntaxError) as error:
        return _fail(str(error), EXIT_BAD_INPUT)
    except StrategyFailedError as error:
        return _fail(str(error), EXIT_FAILED)
    metrics = compute_metrics(result)
    console.print(render_report(result, metrics, width=min(console.width, 110)))
    if out is not None:
        written = export_run(result, out, options.export_format)
        console.print(f"exported {', '.join(str(path) for path in written)}")
    if options.report is not None:
        report = report_from_result(result, metrics, replayed, str(data))
        try:
            path = write_report(report, options.report)
        except OSError as error:
            return _fail(f"cannot write the report {options.report}: {error}", EXIT_FAILED)
        typer.echo(f"report written to {path}", err=True)
    if options.store and db is not None:
        try:
            run = with_report_series(backtest_run(result, metrics, str(data)), result, replayed)
            (run_id,) = asyncio.run(store_runs(db, [run]))
        except StoreError as error:
            return _fail(f"cannot store the run in {db}: {error}", EXIT_FAILED)
        console.print(f"stored as backtest run #{run_id} in {db}")
    return EXIT_OK


def _sweep(
    base: BacktestConfig,
    spec: DataSpec,
    grid: dict[str, list[str]],
    metric: str,
    db: Path | None,
    out: Path | None,
    options: RunOptions,
    console: Console,
) -> int:
    total = len(grid_points(grid))
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task(f"sweeping {base.strategy}", total=total)
        outcomes = run_sweep(
            base,
            spec,
            grid,
            workers=options.workers,
            on_done=lambda _: progress.advance(task),
        )
    ranked = rank(outcomes, metric)
    console.print(_sweep_table(ranked[: options.top], list(grid), metric, total))
    failed = [o for o in ranked if o.error is not None]
    for outcome in failed:
        console.print(f"[red]{outcome.params}: {outcome.error}[/red]")
    runs = [o.run for o in ranked if o.run is not None]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"sweep.{options.export_format}"
        frame = sweep_frame(ranked)
        if options.export_format == "csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path)
        console.print(f"exported {path}")
    if options.store and db is not None and runs:
        try:
            ids = asyncio.run(store_runs(db, runs))
        except StoreError as error:
            return _fail(f"cannot store the runs in {db}: {error}", EXIT_FAILED)
        console.print(f"stored {len(ids)} backtest runs (#{min(ids)}–#{max(ids)}) in {db}")
    return EXIT_FAILED if failed and not runs else EXIT_OK


def sweep_frame(ranked: Sequence[SweepOutcome]) -> pl.DataFrame:
    """One row per point, best first: its swept values, then every metric (or its error)."""
    rows: list[dict[str, Any]] = []
    for position, outcome in enumerate(ranked, start=1):
        row: dict[str, Any] = {"rank": position, **outcome.params}
        if outcome.metrics is not None:
            row.update(outcome.metrics.as_dict())
        row["error"] = outcome.error
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)


def _sweep_table(
    ranked: Sequence[SweepOutcome], names: list[str], metric: str, total: int
) -> Table:
    direction = "higher" if HIGHER_IS_BETTER[metric] else "lower"
    table = Table(title=f"best {len(ranked)} of {total} by {metric} ({direction} is better)")
    table.add_column("#", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    for column in (metric, "total return", "max drawdown", "trades"):
        table.add_column(column, justify="right")
    for position, outcome in enumerate(ranked, start=1):
        cells = [str(position), *(str(outcome.params[name]) for name in names)]
        m = outcome.metrics
        if m is None:
            cells += ["failed", "", "", ""]
        else:
            score = outcome.score(metric)
            cells += [
                "n/a" if score is None else f"{score:.4g}",
                f"{m.total_return:+.2%}",
                f"{-m.max_drawdown:.2%}",
                f"{m.trade_count:,}",
            ]
        table.add_row(*cells)
    return table


def _fail(message: str, code: int) -> int:
    typer.echo(f"kraken-tui backtest: {message}", err=True)
    return code
