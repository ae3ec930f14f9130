"""`kraken-tui ml train` and `kraken-tui ml evaluate`: train a model with walk-forward
validation and judge a saved model on other data.

`register(app)` adds the `ml` sub-app to the main CLI. The commands import scikit-learn only
when run, so the rest of the CLI works without the `ml` extra. Exit codes follow the CLI's:
0 ok, 1 unexpected failure, 2 bad input (missing or malformed data, unknown symbol, refused
model file, impossible options, the extra not installed).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast

import numpy as np
import polars as pl
import typer
from loguru import logger
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from kraken_tui.backtest.data import Bars, DataError, load_ohlcvt, resample
from kraken_tui.ml.report import fold_tables, percent, score_table

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class ModelChoice(StrEnum):
    logreg = "logreg"
    gbt = "gbt"


class WindowChoice(StrEnum):
    expanding = "expanding"
    rolling = "rolling"


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


FORMAT_HELP = "text for people (fits 80 columns), json for scripts."
INTERVAL_HELP = "Bar length of a data file not named like Kraken's (XBTUSD_5.csv)."


class BadInput(Exception):
    """A problem the user can fix; printed as one message with exit code 2."""


def train(
    data: Path,
    symbol: str,
    model: str = "logreg",
    horizon: int = 5,
    out: Path = Path("model.ktmodel"),
    *,
    folds: int = 5,
    window: str = "expanding",
    fee: float | None = None,
    enter: float = 0.55,
    exit: float = 0.50,
    resample_to: int | None = None,
    interval: int | None = None,
    output: str = "text",
    console: Console | None = None,
) -> int:
    """Train on `data` (a Kraken OHLCVT CSV), print the walk-forward report, save to `out`."""
    console = console or Console()
    try:
        document = _train(
            data,
            symbol,
            model,
            horizon,
            out,
            folds,
            window,
            fee,
            enter,
            exit,
            _Loading(resample_to, interval),
            console if output == "text" else None,
        )
    except BadInput as problem:
        typer.echo(f"kraken-tui ml train: {problem}", err=True)
        return EXIT_BAD_INPUT
    if output == "json":
        _print_json(document)
    return EXIT_OK


def evaluate(
    model_path: Path,
    data: Path,
    *,
    symbol: str | None = None,
    enter: float | None = None,
    exit: float | None = None,
    interval: int | None = None,
    output: str = "text",
    console: Console | None = None,
) -> int:
    """Score a saved model on `data` and backtest its strategy there against buy-and-hold."""
    console = console or Console()
    try:
        document = _evaluate(
            model_path,
            data,
            symbol,
            enter,
            exit,
            interval,
            console if output == "text" else None,
        )
    except BadInput as problem:
        typer.echo(f"kraken-tui ml evaluate: {problem}", err=True)
        return EXIT_BAD_INPUT
    if output == "json":
        _print_json(document)
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add the `ml` sub-app (`train`, `evaluate`) to the main command line."""
    ml_app = typer.Typer(
        help="Train machine-learning models and judge them out of sample.", no_args_is_help=True
    )

    @ml_app.command("train")
    def train_command(
        data: Annotated[Path, typer.Option(help="Kraken OHLCVT CSV, e.g. XBTUSD_5.csv.")],
        symbol: Annotated[str, typer.Option(help="Pair the data is for, e.g. XBT/USD.")],
        out: Annotated[Path, typer.Option(help="Model file to write.")],
        model: Annotated[ModelChoice, typer.Option(help="Model family.")] = ModelChoice.logreg,
        horizon: Annotated[int, typer.Option(min=1, help="Label horizon in bars.")] = 5,
        folds: Annotated[int, typer.Option(min=1, help="Walk-forward test windows.")] = 5,
        window: Annotated[
            WindowChoice, typer.Option(help="Training window: all past bars or a fixed span.")
        ] = WindowChoice.expanding,
        fee: Annotated[
            float | None, typer.Option(help="Fee per side as a fraction (default: taker).")
        ] = None,
        enter: Annotated[float, typer.Option(help="Probability that opens a position.")] = 0.55,
        exit_: Annotated[
            float, typer.Option("--exit", help="Probability that closes the position.")
        ] = 0.50,
        resample_to: Annotated[
            int | None,
            typer.Option("--resample", min=1, help="Resample bars to this many minutes."),
        ] = None,
        interval: Annotated[
            int | None, typer.Option(min=1, metavar="MINUTES", help=INTERVAL_HELP)
        ] = None,
        output: Annotated[
            OutputFormat, typer.Option("--format", help=FORMAT_HELP)
        ] = OutputFormat.text,
    ) -> None:
        """Walk-forward train a model, backtest it out of sample and save it."""
        _quiet_logs()
        raise typer.Exit(
            train(
                data,
                symbol,
                model.value,
                horizon,
                out,
                folds=folds,
                window=window.value,
                fee=fee,
                enter=enter,
                exit=exit_,
                resample_to=resample_to,
                interval=interval,
                output=output.value,
            )
        )

    @ml_app.command("evaluate")
    def evaluate_command(
        model: Annotated[Path, typer.Option(help="Model file written by `ml train`.")],
        data: Annotated[Path, typer.Option(help="Kraken OHLCVT CSV to evaluate on.")],
        symbol: Annotated[
            str | None, typer.Option(help="Pair to backtest (default: the model's).")
        ] = None,
        enter: Annotated[
            float | None, typer.Option(help="Entry probability (default: as trained).")
        ] = None,
        exit_: Annotated[
            float | None, typer.Option("--exit", help="Exit probability (default: as trained).")
        ] = None,
        interval: Annotated[
            int | None, typer.Option(min=1, metavar="MINUTES", help=INTERVAL_HELP)
        ] = None,
        output: Annotated[
            OutputFormat, typer.Option("--format", help=FORMAT_HELP)
        ] = OutputFormat.text,
    ) -> None:
        """Score a saved model on other data and backtest it against buy-and-hold."""
        _quiet_logs()
        raise typer.Exit(
            evaluate(
                model,
                data,
                symbol=symbol,
                enter=enter,
                exit=exit_,
                interval=interval,
                output=output.value,
            )
        )

    app.add_typer(ml_app, name="ml")


# -- train ----------------------------------------------------------------------------------------


def _train(
    data: Path,
    symbol: str,
    model: str,
    horizon: int,
    out: Path,
    folds: int,
    window: str,
    fee: float | None,
    enter: float,
    exit: float,
    loading: _Loading,
    console: Console | None,
) -> dict[str, Any]:
    """Train and save; prints the report on `console` (None: quiet, for JSON) and returns the
    figures as one JSON-ready document."""
    _require_extra()
    from kraken_tui.ml.leakage import LeakageError
    from kraken_tui.ml.oos_backtest import instrument_for, run_backtest
    from kraken_tui.ml.train import (
        DEFAULT_FEE_RATE,
        ModelKind,
        TrainingConfig,
        WindowKind,
        save_training,
        train_walk_forward,
    )

    try:
        config = TrainingConfig(
            model=cast(ModelKind, model),
            horizon=horizon,
            fee_rate=DEFAULT_FEE_RATE if fee is None else fee,
            folds=folds,
            window=cast(WindowKind, window),
            enter=enter,
            exit=exit,
        )
        instrument_for(symbol)
    except ValueError as error:
        raise BadInput(str(error)) from None
    if not out.parent.is_dir():
        raise BadInput(f"output directory does not exist: {out.parent}")
    bars = loading.bars(data)
    if console is not None:
        console.print(
            f"training {model} on {len(bars):,} {bars.interval}-minute bars of {symbol} "
            f"({_span(bars)}), horizon {horizon} bars, fee {config.fee_rate:.4%} per side"
        )
    with _progress_bar(console) as progress:
        task = progress.add_task("walk-forward folds", total=folds + 1)

        def advance(stage: str, done: int, total: int) -> None:
            progress.update(task, description=stage, completed=done, total=total)

        try:
            result = train_walk_forward(bars, symbol, config, runner=run_backtest, progress=advance)
        except LeakageError as error:
            raise BadInput(f"refusing to train: {error}") from None
        except ValueError as error:
            raise BadInput(str(error)) from None
    stored = save_training(result, out)
    if console is not None:
        console.print(fold_tables([fold.to_json() for fold in result.folds], console.width))
        _print_summary(
            console,
            result.verdict.describe(),
            result.verdict.edge,
            result.strategy_return,
            result.buy_hold_return,
        )
        console.print(
            f"saved {out} (sha256 {stored.content_sha256[:16]}…); trained on "
            f"{stored.n_samples:,} rows from {stored.train_start} to {stored.train_end}"
        )
    return {"model_file": str(out), "data": str(data), "bars": len(bars), **stored.to_json()}


# -- evaluate -------------------------------------------------------------------------------------


def _evaluate(
    model_path: Path,
    data: Path,
    symbol: str | None,
    enter: float | None,
    exit: float | None,
    interval: int | None,
    console: Console | None,
) -> dict[str, Any]:
    """Score and backtest; prints on `console` (None: quiet) and returns the figures."""
    _require_extra()
    from kraken_tui.ml.features import resolve_feature_set
    from kraken_tui.ml.model_file import ModelFileError, load_model
    from kraken_tui.ml.oos_backtest import BacktestRequest, instrument_for, run_backtest
    from kraken_tui.ml.train import build_dataset, judge

    try:
        loaded = load_model(model_path)
    except ModelFileError as error:
        raise BadInput(str(error)) from None
    meta = loaded.metadata
    symbol = symbol or meta.symbol
    enter = float(meta.metrics.get("enter", 0.55)) if enter is None else enter
    exit = float(meta.metrics.get("exit", min(0.50, enter))) if exit is None else exit
    if not 0.0 < exit <= enter < 1.0:
        raise BadInput(
            f"thresholds must satisfy 0 < exit <= enter < 1 (exit {exit}, enter {enter})"
        )
    try:
        instrument = instrument_for(symbol)
    except ValueError as error:
        raise BadInput(str(error)) from None
    bars = _Loading(None, interval).bars(data)
    if bars.interval != meta.interval:
        if meta.interval % bars.interval:
            raise BadInput(
                f"the model trades {meta.interval}-minute bars; {data.name} has "
                f"{bars.interval}-minute bars, which do not resample to that"
            )
        bars = resample(bars, meta.interval)
    dataset = build_dataset(bars, resolve_feature_set(meta.features), meta.horizon, meta.fee_rate)
    if len(dataset) == 0:
        raise BadInput(f"{data.name} is too short for the model's {len(meta.features)} features")
    train_start = datetime.fromisoformat(meta.train_start)
    train_end = datetime.fromisoformat(meta.train_end) + timedelta(
        minutes=meta.interval * meta.horizon
    )
    ts = pl.col("ts")
    unseen = dataset.frame.filter((ts < train_start) | (ts > train_end))
    in_sample = len(dataset) - unseen.height
    if console is not None:
        console.print(
            f"model {model_path.name}: {meta.model_kind}, horizon {meta.horizon} bars, trained "
            f"{meta.train_start} → {meta.train_end}; data {data.name}: {len(bars):,} bars "
            f"({_span(bars)})"
        )
        if in_sample:
            console.print(
                f"[yellow]{in_sample:,} of {len(dataset):,} rows fall inside the training "
                "range; they are left out of the scores below, and the backtest includes them, "
                "so it is partly in-sample and flatters the model[/yellow]"
            )
    truth = unseen["label"].to_numpy()
    probability = (
        loaded.estimator.predict_proba(unseen.select(dataset.features).to_numpy())[:, 1]
        if unseen.height
        else np.empty(0)
    )
    chosen = probability >= enter
    scores = _scores(truth, probability, chosen)
    if console is not None:
        console.print(score_table(scores, enter, console.width))
    outcome = run_backtest(
        BacktestRequest(
            bars=bars,
            symbol=symbol,
            params={"model": str(model_path), "enter": enter, "exit": exit},
            trade_from=bars.frame["ts"][0],
            fee_rate=Decimal(repr(meta.fee_rate)),
        )
    )
    if console is not None:
        console.print(
            f"backtest: strategy {percent(outcome.strategy_return)} vs buy-and-hold "
            f"{percent(outcome.buy_hold_return)}; {outcome.trades} trades, fees "
            f"{outcome.fees:,.2f} {instrument.quote}, in the market "
            f"{outcome.time_in_market:.0%} of bars"
        )
    verdict = None
    if unseen.height:
        # With in-sample bars in the backtest, only the unseen signals are fair evidence.
        trades = (
            ("round trips", np.array(outcome.round_trip_returns), 1.0)
            if not in_sample
            else ("signals", unseen["forward_return"].to_numpy()[chosen], float(meta.horizon))
        )
        verdict = judge(truth, probability, meta.horizon, trades)
        if console is not None:
            console.print(f"[{'green' if verdict.edge else 'yellow'}]{verdict.describe()}[/]")
    return {
        "model_file": str(model_path),
        "data": str(data),
        "symbol": symbol,
        "interval": bars.interval,
        "bars": len(bars),
        "rows": len(dataset),
        "in_sample_rows": in_sample,
        "enter": enter,
        "exit": exit,
        "scores": scores,
        "backtest": {
            "strategy_return": outcome.strategy_return,
            "buy_hold_return": outcome.buy_hold_return,
            "trades": outcome.trades,
            "fees": str(outcome.fees),
            "quote": instrument.quote,
            "time_in_market": outcome.time_in_market,
        },
        "edge": None if verdict is None else verdict.edge,
        "verdict": None if verdict is None else verdict.describe(),
    }


def _scores(truth: np.ndarray, probability: np.ndarray, chosen: np.ndarray) -> dict[str, Any]:
    """Scores of the unseen rows; None where a score is undefined (no rows, one class, no
    signal)."""
    if truth.size == 0:
        return {"rows": 0, "base_rate": None, "auc": None, "precision_at_enter": None, "signals": 0}
    from sklearn.metrics import roc_auc_score

    return {
        "rows": int(truth.size),
        "base_rate": float(truth.mean()),
        "auc": None if truth.min() == truth.max() else float(roc_auc_score(truth, probability)),
        "precision_at_enter": float(truth[chosen].mean()) if chosen.any() else None,
        "signals": int(chosen.sum()),
    }


# -- shared ---------------------------------------------------------------------------------------


class _Loading:
    """How the data file becomes bars: its interval (when the name does not say) and an
    optional resampling."""

    def __init__(self, resample_to: int | None, interval: int | None) -> None:
        self.resample_to = resample_to
        self.interval = interval

    def bars(self, data: Path) -> Bars:
        try:
            return load_ohlcvt(data, interval=self.interval, resample_to=self.resample_to)
        except DataError as error:
            raise BadInput(str(error)) from None


def _quiet_logs() -> None:
    """Warnings and errors only: per-backtest debug lines would shred the progress bar."""
    logger.remove()
    logger.add(sys.stderr, level="WARNING")


def _require_extra() -> None:
    try:
        import sklearn  # noqa: F401
        import skops  # noqa: F401
    except ModuleNotFoundError as missing:
        raise BadInput(
            f"{missing.name} is not installed; machine learning needs the `ml` extra: "
            "pip install 'kraken-tui[ml]'"
        ) from None


def _span(bars: Bars) -> str:
    ts = bars.frame["ts"]
    return f"{ts[0]:%Y-%m-%d %H:%M} → {ts[-1]:%Y-%m-%d %H:%M} UTC"


def _progress_bar(console: Console | None) -> Progress:
    """A transient progress bar, switched off when nothing but JSON may reach stdout."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=console is None,
    )


def _print_summary(
    console: Console,
    verdict: str,
    edge: bool,
    strategy_return: float | None,
    buy_hold_return: float | None,
) -> None:
    console.print(f"[{'green' if edge else 'yellow'}]{verdict}[/]")
    if strategy_return is not None and buy_hold_return is not None:
        console.print(
            f"out-of-sample backtest, compounded over the test windows: strategy "
            f"{percent(strategy_return)} vs buy-and-hold {percent(buy_hold_return)}"
        )
    if not edge:
        console.print(
            "[yellow]without an out-of-sample edge this model should not trade real money[/]"
        )


def _print_json(document: dict[str, Any]) -> None:
    typer.echo(json.dumps(document, indent=2))
