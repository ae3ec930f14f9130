"""What `kraken-tui backtest` does: load, run (or sweep), report, export, store.

Kept apart from `cli_backtest` (the typer command) so that building the root CLI, which
creates every command's options at start-up, does not import the backtester, the sandbox
venue and rich's progress machinery; they load when a backtest actually runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import polars as pl
import typer
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

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
from kraken_tui.backtest.fitted_table import Column, fitted_table
from kraken_tui.backtest.html_report import (
    report_from_result,
    with_report_series,
    write_report,
)
from kraken_tui.backtest.report import (
    ExportFormat,
    Metrics,
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
OutputFormat = Literal["text", "json"]


class ParamSyntaxError(ValueError):
    """A `--param` that is not `name=value`."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Everything besides the strategy and the data that shapes a run."""

    cash: Decimal = DEFAULT_CASH
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    fill: FillModel = field(default_factory=FillModel)
    resample_to: int | None = None
    interval: int | None = None
    """Bar minutes of an OHLCVT file whose name does not carry them."""
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
    output: OutputFormat = "text"
    """What is printed: the report for people, or one JSON document for scripts."""


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
        if options.trades and options.interval is not None:
            raise DataError(
                "--interval is the bar length of an OHLCVT file; time and sales become "
                "candles of --resample minutes"
            )
        spec = DataSpec(
            path=data,
            start=start,
            end=end,
            resample_to=options.resample_to,
            interval=options.interval,
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
    text = options.output == "text"
    if text:
        console.print(render_report(result, metrics, width=min(console.width, 110)))
    written = [] if out is None else export_run(result, out, options.export_format)
    if text and written:
        console.print(f"exported {', '.join(str(path) for path in written)}")
    if options.report is not None:
        report = report_from_result(result, metrics, replayed, str(data))
        try:
            path = write_report(report, options.report)
        except OSError as error:
            return _fail(f"cannot write the report {options.report}: {error}", EXIT_FAILED)
        typer.echo(f"report written to {path}", err=True)
    run_id = None
    if options.store and db is not None:
        try:
            run = with_report_series(backtest_run(result, metrics, str(data)), result, replayed)
            (run_id,) = asyncio.run(store_runs(db, [run]))
        except StoreError as error:
            return _fail(f"cannot store the run in {db}: {error}", EXIT_FAILED)
        if text:
            console.print(f"stored as backtest run #{run_id} in {db}")
    if not text:
        _print_json(
            {
                "strategy": result.config.strategy,
                "symbol": result.instrument.symbol,
                "data": str(data),
                "params": result.params,
                "metrics": metrics.as_dict(),
                "exported": [str(path) for path in written],
                "run_id": run_id,
            }
        )
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
    text = options.output == "text"
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not text,
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
    failed = [o for o in ranked if o.error is not None]
    if text:
        console.print(_sweep_table(ranked[: options.top], list(grid), metric, total, console.width))
        for outcome in failed:
            console.print(f"[red]{outcome.params}: {outcome.error}[/red]")
    runs = [o.run for o in ranked if o.run is not None]
    exported: list[Path] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"sweep.{options.export_format}"
        frame = sweep_frame(ranked)
        if options.export_format == "csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path)
        exported.append(path)
        if text:
            console.print(f"exported {path}")
    ids: list[int] = []
    if options.store and db is not None and runs:
        try:
            ids = asyncio.run(store_runs(db, runs))
        except StoreError as error:
            return _fail(f"cannot store the runs in {db}: {error}", EXIT_FAILED)
        if text:
            console.print(f"stored {len(ids)} backtest runs (#{min(ids)}–#{max(ids)}) in {db}")
    if not text:
        _print_json(
            {
                "strategy": base.strategy,
                "symbol": base.symbol,
                "data": spec.label,
                "metric": metric,
                "higher_is_better": HIGHER_IS_BETTER[metric],
                "points": total,
                "ranking": [
                    {
                        "rank": position,
                        "params": outcome.params,
                        "metrics": None if outcome.metrics is None else outcome.metrics.as_dict(),
                        "error": outcome.error,
                    }
                    for position, outcome in enumerate(ranked, start=1)
                ],
                "exported": [str(path) for path in exported],
                "run_ids": ids,
            }
        )
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
    ranked: Sequence[SweepOutcome], names: list[str], metric: str, total: int, width: int
) -> RenderableType:
    direction = "higher" if HIGHER_IS_BETTER[metric] else "lower"
    columns = [
        Column("rank", "rank"),
        *(Column(name, name) for name in names),
        Column(metric, metric),
        Column("return", "total return"),
        Column("max DD", "max drawdown"),
        Column("trades", "trades"),
    ]
    rows = [
        [
            str(position),
            *(str(outcome.params[name]) for name in names),
            *_ranked_cells(outcome, metric),
        ]
        for position, outcome in enumerate(ranked, start=1)
    ]
    title = f"best {len(ranked)} of {total} by {metric} ({direction} is better)"
    return fitted_table(title, columns, rows, width, record_name="rank")


def _ranked_cells(outcome: SweepOutcome, metric: str) -> list[str]:
    m: Metrics | None = outcome.metrics
    if m is None:
        return ["failed", "", "", ""]
    score = outcome.score(metric)
    return [
        "n/a" if score is None else f"{score:.4g}",
        f"{m.total_return:+.2%}",
        f"{-m.max_drawdown:.2%}",
        f"{m.trade_count:,}",
    ]


def _print_json(document: dict[str, Any]) -> None:
    """One JSON document on stdout; parameters that are not JSON types print as text."""
    typer.echo(json.dumps(document, indent=2, default=str))


def _fail(message: str, code: int) -> int:
    typer.echo(f"kraken-tui backtest: {message}", err=True)
    return code
