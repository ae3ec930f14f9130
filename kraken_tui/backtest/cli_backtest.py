"""`kraken-tui backtest`: one run with its report, or a parameter sweep ranked by a metric.

    kraken-tui backtest --strategy sma_cross --data data/kraken/XBTUSD_1.csv --symbol XBT/USD \\
        --from 2024-01-01 --to 2024-07-01 --param fast=10 --param slow=30 \\
        [--sweep fast=5,10,20 --sweep slow=30,60 --metric sharpe] [--out reports/run1] \\
        [--interval 5] [--format json]

`backtest()` does the work and returns the exit code (0 ok, 1 the strategy failed, 2 bad
input: a missing or malformed data file, an unknown strategy or symbol, a parameter the
strategy refuses); `register(app)` adds it to a typer app as the `backtest` command. Every
run (every sweep point too) is stored in SQLite with its parameters, so runs can be compared
later, on the command line or in the app's backtest screen.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from loguru import logger

if TYPE_CHECKING:
    from rich.console import Console

    from kraken_tui.backtest.command import RunOptions

EXIT_BAD_INPUT = 2
DEFAULT_DB = Path("data/kraken_tui.sqlite3")
DEFAULT_CASH_TEXT = "10000"
DEFAULT_STRATEGY_DIR = Path("strategies")
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
RANKING_HELP = (
    "Rank sweeps by: sharpe, sortino, total_return, annualized_return, final_equity, "
    "profit_factor, win_rate, max_drawdown, trade_count, exposure."
)


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


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
    """Run the backtest (or sweep), print its report, export and store it; returns the exit
    code: 0 ok, 1 the strategy failed, 2 bad input (data, strategy, symbol or parameters)."""
    from kraken_tui.backtest.command import run_backtest

    return run_backtest(
        strategy, data, symbol, start, end, params, sweep, metric, out, db, options, console
    )


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
        Path,
        typer.Option(
            "--data", "-d", help="Kraken OHLCVT CSV (XBTUSD_1.csv), or time and sales (--trades)."
        ),
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
    metric: Annotated[str, typer.Option(help=RANKING_HELP)] = "sharpe",
    out: Annotated[
        Path | None, typer.Option(help="Directory for equity/trades/fills (or sweep) files.")
    ] = None,
    export_format: Annotated[
        ExportFormat, typer.Option("--export-format", help="Format of the --out files.")
    ] = ExportFormat.csv,
    output: Annotated[
        OutputFormat,
        typer.Option("--format", help="text for people (fits 80 columns), json for scripts."),
    ] = OutputFormat.text,
    db: Annotated[
        Path | None, typer.Option(help="SQLite file for the run (default: the configured one).")
    ] = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Do not store the run.")] = False,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            dir_okay=False,
            help="Write the run as one self-contained HTML file (charts, trades, metrics).",
        ),
    ] = None,
    cash: Annotated[str, typer.Option(help="Starting quote balance.")] = DEFAULT_CASH_TEXT,
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
    trades: Annotated[
        bool,
        typer.Option("--trades", help="--data is time and sales (XBTUSD.csv): replay each trade."),
    ] = False,
    resample: Annotated[
        int | None,
        typer.Option(min=1, help="Resample bars (with --trades: build candles) to N minutes."),
    ] = None,
    interval: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="MINUTES",
            help="Bar length of a data file not named like Kraken's (XBTUSD_5.csv).",
        ),
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
    from kraken_tui.backtest.command import RunOptions
    from kraken_tui.backtest.fill_model import FillModel
    from kraken_tui.sandbox.fees import FeeSchedule

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    try:
        if report is not None and sweep:
            raise ValueError(
                "--report writes one run; a sweep's points are reported from the backtest "
                "screen (b) of the console"
            )
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
            interval=interval,
            trades=trades,
            cache=not no_cache,
            strategy_dir=strategy_dir,
            workers=workers,
            top=top,
            store=not no_store,
            export_format=export_format.value,
            report=report,
            output=output.value,
        )
    except ValueError as error:
        typer.echo(f"kraken-tui backtest: {error}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
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
    from kraken_tui.cli_options import CliOptions

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
