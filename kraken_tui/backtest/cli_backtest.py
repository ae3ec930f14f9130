"""`kraken-tui backtest`: one run with its report, or a parameter sweep ranked by a metric.

    kraken-tui backtest --strategy sma_cross --data data/kraken/XBTUSD_1.csv --symbol XBT/USD \\
        --from 2024-01-01 --to 2024-07-01 --param fast=10 --param slow=30 \\
        [--sweep fast=5,10,20 --sweep slow=30,60 --metric sharpe] [--out reports/run1]

`backtest()` does the work and returns the exit code (0 ok, 1 the strategy failed, 2 bad
input: a missing or malformed data file, an unknown strategy or symbol, a parameter the
strategy refuses); `register(app)` adds it to a typer app as the `backtest` command. Every
run (every sweep point too) is stored in SQLite with its parameters, so runs can be compared
later, on the command line or in the app's backtest screen.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from loguru import logger
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
from kraken_tui.backtest.report import (
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
DEFAULT_DB = Path("data/kraken_tui.sqlite3")
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


class ParamSyntaxError(ValueError):
    """A `--param` that is not `name=value`."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Everything besides the strategy and the data that shapes a run."""

    cash: Decimal = DEFAULT_CASH
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    fill: FillModel = field(default_factory=FillModel)
    resample_to: int | None = None
    cache: bool = True
    strategy_dir: Path = DEFAULT_STRATEGY_DIR
    workers: int | None = None
    top: int = 10
    store: bool = True
    export_format: ExportFormat = ExportFormat.csv


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


def backtest(
    strategy: str,
    data: Path,
    symbol: str,
    start: datetime | None = None,
    end: datetime | None = None,
    params: Sequence[str] = (),
    sweep: Sequence[str] = (),
    metric: str = "sharpe",
    out: Path | None = None,
    db: Path | None = DEFAULT_DB,
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
        )
        bars = spec.load()
        if grid:
            return _sweep(base, spec, grid, metric, db, out, options, console)
        result = Backtester(base, bars).run()
    except (DataError, BacktestSetupError, SweepError, ParamSyntaxError) as error:
        return _fail(str(error), EXIT_BAD_INPUT)
    except StrategyFailedError as error:
        return _fail(str(error), EXIT_FAILED)
    metrics = compute_metrics(result)
    console.print(render_report(result, metrics, width=min(console.width, 110)))
    if out is not None:
        written = export_run(result, out, options.export_format.value)
        console.print(f"exported {', '.join(str(path) for path in written)}")
    if options.store and db is not None:
        try:
            (run_id,) = asyncio.run(store_runs(db, [backtest_run(result, metrics, str(data))]))
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
        path = out / f"sweep.{options.export_format.value}"
        frame = sweep_frame(ranked)
        if options.export_format is ExportFormat.csv:
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


# -- the typer command --------------------------------------------------------------------------


def backtest_command(
    ctx: typer.Context,
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy", "-s", help="Registered name (sma_cross), file.py:Class or module:Class."
        ),
    ],
    data: Annotated[
        Path, typer.Option("--data", "-d", help="Kraken OHLCVT CSV, e.g. XBTUSD_1.csv.")
    ],
    symbol: Annotated[str, typer.Option(help="Pair the data is for.")] = "XBT/USD",
    start: Annotated[
        datetime | None,
        typer.Option("--from", formats=DATE_FORMATS, help="First bar (UTC), inclusive."),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option("--to", formats=DATE_FORMATS, help="End (UTC), exclusive."),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Strategy parameter name=value.")
    ] = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option("--sweep", help="Sweep a parameter over values: name=a,b,c (repeatable)."),
    ] = None,
    metric: Annotated[
        str, typer.Option(help=f"Rank sweeps by: {', '.join(sorted(HIGHER_IS_BETTER))}.")
    ] = "sharpe",
    out: Annotated[
        Path | None, typer.Option(help="Directory for equity/trades/fills (or sweep) files.")
    ] = None,
    export_format: Annotated[
        ExportFormat, typer.Option("--format", help="Export file format.")
    ] = ExportFormat.csv,
    db: Annotated[
        Path | None, typer.Option(help="SQLite file for the run (default: the configured one).")
    ] = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Do not store the run.")] = False,
    cash: Annotated[str, typer.Option(help="Starting quote balance.")] = str(DEFAULT_CASH),
    maker_fee_pct: Annotated[
        str | None, typer.Option(help="Maker fee in percent (default: Kraken's base tier).")
    ] = None,
    taker_fee_pct: Annotated[
        str | None, typer.Option(help="Taker fee in percent (default: Kraken's base tier).")
    ] = None,
    latency_ms: Annotated[
        int, typer.Option(min=0, help="Decision-to-venue latency in milliseconds.")
    ] = 0,
    spread_bps: Annotated[str, typer.Option(help="Quoted spread around the open, bps.")] = "0",
    slippage_bps: Annotated[str, typer.Option(help="Extra taker slippage, bps.")] = "0",
    volume_share: Annotated[
        str | None, typer.Option(help="Share of each bar's volume available (default: all).")
    ] = None,
    resample: Annotated[
        int | None, typer.Option(min=1, help="Resample bars to this many minutes.")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Sweep worker processes.")] = None,
    top: Annotated[int, typer.Option(min=1, help="Sweep rows to print.")] = 10,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not keep a Parquet copy of the data.")
    ] = False,
    strategy_dir: Annotated[
        Path, typer.Option(help="Directory of user strategy files.")
    ] = DEFAULT_STRATEGY_DIR,
) -> None:
    """Backtest a strategy on Kraken OHLCVT data (or sweep its parameters)."""
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    try:
        fees = FeeSchedule(
            maker=_percent(maker_fee_pct, "maker-fee-pct", FeeSchedule().maker),
            taker=_percent(taker_fee_pct, "taker-fee-pct", FeeSchedule().taker),
        )
        fill = FillModel(
            latency_ms=latency_ms,
            spread_bps=_decimal(spread_bps, "spread-bps"),
            slippage_bps=_decimal(slippage_bps, "slippage-bps"),
            volume_share=None if volume_share is None else _decimal(volume_share, "volume-share"),
        )
        options = RunOptions(
            cash=_decimal(cash, "cash"),
            fees=fees,
            fill=fill,
            resample_to=resample,
            cache=not no_cache,
            strategy_dir=strategy_dir,
            workers=workers,
            top=top,
            store=not no_store,
            export_format=export_format,
        )
    except ValueError as error:
        raise typer.Exit(_fail(str(error), EXIT_BAD_INPUT)) from None
    code = backtest(
        strategy,
        data,
        symbol,
        start,
        end,
        param or [],
        sweep or [],
        metric,
        out,
        db or _configured_db(ctx),
        options,
    )
    raise typer.Exit(code)


def _decimal(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"--{option} {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"--{option} {text!r} is not a finite number")
    return value


def _percent(text: str | None, option: str, default: Decimal) -> Decimal:
    return default if text is None else _decimal(text, option) / 100


def _configured_db(ctx: typer.Context) -> Path:
    """The database of the root `kraken-tui` options (config file, env, --db), or the default
    path when the command runs on its own."""
    from kraken_tui.cli import CliOptions  # the root CLI imports this module: import late

    root = ctx.find_root().obj
    if isinstance(root, CliOptions):
        return root.load_settings().storage.db_path
    return DEFAULT_DB


def register(app: typer.Typer) -> None:
    """Add `backtest` to a typer app (the root `kraken-tui` app: one line in cli.py)."""
    app.command("backtest", no_args_is_help=True)(backtest_command)


def main() -> None:
    """`python -m kraken_tui.backtest.cli_backtest`: the command on its own."""
    app = typer.Typer(
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    register(app)
    app()


if __name__ == "__main__":
    main()
