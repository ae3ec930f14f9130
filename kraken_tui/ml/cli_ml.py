"""`kraken-tui ml train` and `kraken-tui ml evaluate`: train a model with walk-forward
validation and judge a saved model on other data.

`register(app)` adds the `ml` sub-app to the main CLI. The commands import scikit-learn only
when run, so the rest of the CLI works without the `ml` extra. Exit codes follow the CLI's:
0 ok, 1 unexpected failure, 2 bad input (missing or malformed data, unknown symbol, refused
model file, impossible options, the extra not installed).
"""

from __future__ import annotations

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
from rich.table import Table

from kraken_tui.backtest.data import Bars, DataError, load_ohlcvt, resample

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class ModelChoice(StrEnum):
    logreg = "logreg"
    gbt = "gbt"


class WindowChoice(StrEnum):
    expanding = "expanding"
    rolling = "rolling"


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
    console: Console | None = None,
) -> int:
    """Train on `data` (a Kraken OHLCVT CSV), print the walk-forward report, save to `out`."""
    console = console or Console()
    try:
        return _train(
            data, symbol, model, horizon, out, folds, window, fee, enter, exit, resample_to, console
        )
    except BadInput as problem:
        typer.echo(f"kraken-tui ml train: {problem}", err=True)
        return EXIT_BAD_INPUT


def evaluate(
    model_path: Path,
    data: Path,
    *,
    symbol: str | None = None,
    enter: float | None = None,
    exit: float | None = None,
    console: Console | None = None,
) -> int:
    """Score a saved model on `data` and backtest its strategy there against buy-and-hold."""
    console = console or Console()
    try:
        return _evaluate(model_path, data, symbol, enter, exit, console)
    except BadInput as problem:
        typer.echo(f"kraken-tui ml evaluate: {problem}", err=True)
        return EXIT_BAD_INPUT


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
            int | None, typer.Option("--resample", help="Resample bars to this many minutes.")
        ] = None,
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
    ) -> None:
        """Score a saved model on other data and backtest it against buy-and-hold."""
        _quiet_logs()
        raise typer.Exit(evaluate(model, data, symbol=symbol, enter=enter, exit=exit_))

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
    resample_to: int | None,
    console: Console,
) -> int:
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
    bars = _load_bars(data, resample_to)
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
    _print_folds(console, [fold.to_json() for fold in result.folds])
    _print_summary(
        console,
        result.verdict.describe(),
        result.verdict.edge,
        result.strategy_return,
        result.buy_hold_return,
    )
    stored = save_training(result, out)
    console.print(
        f"saved {out} (sha256 {stored.content_sha256[:16]}…); trained on "
        f"{stored.n_samples:,} rows from {stored.train_start} to {stored.train_end}"
    )
    return EXIT_OK


# -- evaluate -------------------------------------------------------------------------------------


def _evaluate(
    model_path: Path,
    data: Path,
    symbol: str | None,
    enter: float | None,
    exit: float | None,
    console: Console,
) -> int:
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
    bars = _load_bars(data, None)
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
    console.print(
        f"model {model_path.name}: {meta.model_kind}, horizon {meta.horizon} bars, trained "
        f"{meta.train_start} → {meta.train_end}; data {data.name}: {len(bars):,} bars "
        f"({_span(bars)})"
    )
    if in_sample:
        console.print(
            f"[yellow]{in_sample:,} of {len(dataset):,} rows fall inside the training range; "
            "they are left out of the scores below, and the backtest includes them, so it "
            "is partly in-sample and flatters the model[/yellow]"
        )
    truth = unseen["label"].to_numpy()
    probability = (
        loaded.estimator.predict_proba(unseen.select(dataset.features).to_numpy())[:, 1]
        if unseen.height
        else np.empty(0)
    )
    chosen = probability >= enter
    table = Table(title="out-of-sample scores")
    for column in ("rows", "base rate", "AUC", f"precision ≥ {enter:.2f}", "signals"):
        table.add_column(column, justify="right")
    table.add_row(*_scores(truth, probability, chosen))
    console.print(table)
    outcome = run_backtest(
        BacktestRequest(
            bars=bars,
            symbol=symbol,
            params={"model": str(model_path), "enter": enter, "exit": exit},
            trade_from=bars.frame["ts"][0],
            fee_rate=Decimal(repr(meta.fee_rate)),
        )
    )
    console.print(
        f"backtest: strategy {outcome.strategy_return:+.2%} vs buy-and-hold "
        f"{outcome.buy_hold_return:+.2%}; {outcome.trades} trades, fees "
        f"{outcome.fees:,.2f} {instrument.quote}, in the market {outcome.time_in_market:.0%} "
        "of bars"
    )
    if unseen.height:
        # With in-sample bars in the backtest, only the unseen signals are fair evidence.
        trades = (
            ("round trips", np.array(outcome.round_trip_returns), 1.0)
            if not in_sample
            else ("signals", unseen["forward_return"].to_numpy()[chosen], float(meta.horizon))
        )
        verdict = judge(truth, probability, meta.horizon, trades)
        console.print(f"[{'green' if verdict.edge else 'yellow'}]{verdict.describe()}[/]")
    return EXIT_OK


def _scores(truth: np.ndarray, probability: np.ndarray, chosen: np.ndarray) -> tuple[str, ...]:
    if truth.size == 0:
        return ("0", "–", "–", "–", "0")
    from sklearn.metrics import roc_auc_score

    auc = "–" if truth.min() == truth.max() else f"{roc_auc_score(truth, probability):.3f}"
    precision = f"{truth[chosen].mean():.3f}" if chosen.any() else "–"
    return (f"{truth.size:,}", f"{truth.mean():.3f}", auc, precision, f"{int(chosen.sum()):,}")


# -- shared ---------------------------------------------------------------------------------------


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


def _load_bars(data: Path, resample_to: int | None) -> Bars:
    try:
        return load_ohlcvt(data, resample_to=resample_to)
    except DataError as error:
        raise BadInput(str(error)) from None


def _span(bars: Bars) -> str:
    ts = bars.frame["ts"]
    return f"{ts[0]:%Y-%m-%d %H:%M} → {ts[-1]:%Y-%m-%d %H:%M} UTC"


def _progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _print_folds(console: Console, folds: list[dict[str, Any]]) -> None:
    table = Table(title="walk-forward folds (every score is out of sample)")
    table.add_column("fold", justify="right")
    table.add_column("test window (UTC)", no_wrap=True)
    for column in (
        "train rows",
        "purged",
        "base rate",
        "AUC",
        "precision",
        "signals",
        "strategy",
        "buy & hold",
        "trades",
    ):
        table.add_column(column, justify="right")
    for fold in folds:
        start, end = (datetime.fromisoformat(t) for t in fold["test"])
        table.add_row(
            str(fold["fold"]),
            f"{start:%m-%d %H:%M} → {end:%m-%d %H:%M}",
            f"{fold['n_train']:,}",
            str(fold["purged"]),
            f"{fold['base_rate']:.3f}",
            _number(fold["auc"], "{:.3f}"),
            _number(fold["precision_at_enter"], "{:.3f}"),
            str(fold["signals"]),
            _number(fold.get("strategy_return"), "{:+.2%}"),
            _number(fold.get("buy_hold_return"), "{:+.2%}"),
            str(fold.get("trades", "–")),
        )
    console.print(table)


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
            f"{strategy_return:+.2%} vs buy-and-hold {buy_hold_return:+.2%}"
        )
    if not edge:
        console.print(
            "[yellow]without an out-of-sample edge this model should not trade real money[/]"
        )


def _number(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)
