"""Walk-forward training: fit on the past, measure on the future that follows, and repeat.

The bars are split into an initial training span and `folds` consecutive test windows. For
each window a fresh model is fitted on the bars before it (all of them with the expanding
scheme, the most recent `initial` rows with the rolling one) and judged only on the window.
Labels look `horizon` bars ahead, so the last `horizon` bars before a test window have labels
that overlap it; they are purged from that fold's training rows, otherwise the model would be
graded on outcomes it was partly fitted to.

Every fold reports AUC (ranking quality, 0.5 = chance) and precision at the entry threshold
(how often a trade the strategy would take was a winner), and its model is backtested on the
window through a `BacktestRunner` against buy-and-hold. The pooled out-of-sample AUC gets a
confidence interval whose width accounts for overlapping labels (an effective sample of
n / horizon); the verdict says "edge" only when that interval is above 0.5 and the strategy's
out-of-sample trades returned more than the fees with the same confidence (see `Verdict`).

The model finally saved is refitted on all labelled bars; its quality is the walk-forward
estimate, never a score on the data it was fitted to.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from kraken_tui.backtest.data import Bars
from kraken_tui.ml.features import (
    BAR_FEATURES,
    FEATURE_VERSION,
    WARMUP_BARS,
    FeatureSet,
    compute_features,
)
from kraken_tui.ml.labels import check_label_spec, forward_label, forward_net_return
from kraken_tui.ml.leakage import check_label_correlation, check_lookahead
from kraken_tui.ml.model_file import ModelMetadata, library_versions, save_model
from kraken_tui.ml.oos_backtest import BacktestOutcome, BacktestRequest, BacktestRunner
from kraken_tui.sandbox.fees import FeeSchedule

ModelKind = Literal["logreg", "gbt"]
WindowKind = Literal["expanding", "rolling"]
MODEL_KINDS: tuple[str, ...] = ("logreg", "gbt")
DEFAULT_FEE_RATE = float(FeeSchedule().taker)
"""Kraken's base-tier taker fee: the strategy trades with market orders."""
MIN_ROWS_PER_FOLD = 100
Z_95 = 1.959963984540054

Progress = Callable[[str, int, int], None]
"""Called as (stage, done, total) while training runs, for a progress bar."""


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    model: ModelKind = "logreg"
    horizon: int = 5
    fee_rate: float = DEFAULT_FEE_RATE
    folds: int = 5
    window: WindowKind = "expanding"
    enter: float = 0.55
    exit: float = 0.50
    feature_set: FeatureSet = BAR_FEATURES
    seed: int = 0

    def __post_init__(self) -> None:
        check_label_spec(self.horizon, self.fee_rate)
        if self.model not in MODEL_KINDS:
            raise ValueError(f"model must be one of {', '.join(MODEL_KINDS)}, got {self.model!r}")
        if self.window not in ("expanding", "rolling"):
            raise ValueError(f"window must be expanding or rolling, got {self.window!r}")
        if isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds < 1:
            raise ValueError(f"folds must be a positive whole number, got {self.folds!r}")
        if not 0.0 < self.exit <= self.enter < 1.0:
            raise ValueError(
                f"thresholds must satisfy 0 < exit <= enter < 1, got exit {self.exit}, "
                f"enter {self.enter}"
            )


@dataclass(frozen=True, slots=True)
class Dataset:
    """The labelled rows with complete features, in time order. `bar` is each row's position
    in the source bars, which is what the purge gap is measured in."""

    frame: pl.DataFrame
    features: tuple[str, ...]

    @property
    def x(self) -> np.ndarray:
        return self.frame.select(self.features).to_numpy()

    @property
    def y(self) -> np.ndarray:
        return self.frame["label"].to_numpy()

    @property
    def bar(self) -> np.ndarray:
        return self.frame["bar"].to_numpy()

    def __len__(self) -> int:
        return self.frame.height


def build_dataset(bars: Bars, feature_set: FeatureSet, horizon: int, fee_rate: float) -> Dataset:
    """Features, forward return and label for every bar where all three are known."""
    outcome = bars.frame.select(
        forward_net_return(horizon, fee_rate), forward_label(horizon, fee_rate)
    )
    frame = (
        pl.concat([compute_features(bars.frame, feature_set), outcome], how="horizontal")
        .with_row_index("bar")
        .drop_nulls([*feature_set.names, "label"])
        .filter(pl.all_horizontal(pl.col(feature_set.names).is_finite()))
    )
    return Dataset(frame, feature_set.names)


@dataclass(frozen=True, slots=True)
class Fold:
    number: int
    train: np.ndarray
    """Dataset row indices fitted on (after the purge)."""
    test: np.ndarray
    purged: int
    """Training rows dropped because their labels reach into the test window."""


def walk_forward_folds(
    bar: np.ndarray, folds: int, horizon: int, window: WindowKind = "expanding"
) -> list[Fold]:
    """Split rows (with source-bar positions `bar`, increasing) into `folds` consecutive test
    windows after an initial training span of the same size as each window or larger."""
    rows = len(bar)
    size = rows // (folds + 1)
    if size < MIN_ROWS_PER_FOLD:
        raise ValueError(
            f"{rows} labelled rows are too few for {folds} folds (each test window needs "
            f"{MIN_ROWS_PER_FOLD}); use fewer folds or more data"
        )
    initial = rows - folds * size
    result: list[Fold] = []
    for number in range(folds):
        test_start = initial + number * size
        train_start = 0 if window == "expanding" else test_start - initial
        candidates = np.arange(train_start, test_start)
        keep = bar[candidates] + horizon < bar[test_start]
        if keep.sum() < MIN_ROWS_PER_FOLD:
            raise ValueError(
                f"fold {number + 1} keeps {int(keep.sum())} training rows after purging labels "
                f"that reach into its test window; use a shorter horizon or more data"
            )
        result.append(
            Fold(
                number=number + 1,
                train=candidates[keep],
                test=np.arange(test_start, test_start + size),
                purged=int((~keep).sum()),
            )
        )
    return result


def make_estimator(kind: ModelKind, seed: int = 0) -> Any:
    """An unfitted classifier. Logistic regression standardises its inputs first (features
    differ in scale by orders of magnitude). The boosted trees are kept small on purpose (50
    trees of depth 2, at least 200 rows per leaf): market data is mostly noise, and on the
    planted-pattern tests deeper, leafier trees fitted that noise and fell to chance out of
    sample while these kept the signal."""
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=50,
        learning_rate=0.05,
        max_depth=2,
        min_samples_leaf=200,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )


@dataclass(frozen=True, slots=True)
class FoldResult:
    number: int
    train_start: datetime
    train_end: datetime
    test_start: datetime
    test_end: datetime
    n_train: int
    n_test: int
    purged: int
    base_rate: float
    """Share of test rows labelled up: what always predicting "up" would score."""
    auc: float | None
    precision_at_enter: float | None
    """Share of winners among test rows with probability ≥ enter; None if there were none."""
    signals: int
    backtest: BacktestOutcome | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "fold": self.number,
            "train": [self.train_start.isoformat(), self.train_end.isoformat()],
            "test": [self.test_start.isoformat(), self.test_end.isoformat()],
            "n_train": self.n_train,
            "n_test": self.n_test,
            "purged": self.purged,
            "base_rate": self.base_rate,
            "auc": self.auc,
            "precision_at_enter": self.precision_at_enter,
            "signals": self.signals,
        }
        if self.backtest is not None:
            data["strategy_return"] = self.backtest.strategy_return
            data["buy_hold_return"] = self.backtest.buy_hold_return
            data["trades"] = self.backtest.trades
        return data


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the out-of-sample evidence shows an edge. Two things must hold: the predicted
    probabilities rank winners above losers (AUC interval above 0.5), and trading on them made
    money after fees (the lower end of the mean trade return's interval above 0).

    Ranking alone is not enough: with fees in the label, volatility predicts which bars can
    clear the fee at all, in either direction, and gives a high AUC on a random walk with
    volatility regimes while every trade still loses the fee. The trades are the backtests'
    closed round trips when backtests ran, else the rows with probability ≥ enter held for the
    label horizon."""

    auc: float | None
    auc_low: float | None
    auc_high: float | None
    basis: str
    """What the trade returns are: "round trips" or "signals"."""
    trades: int
    trade_return: float | None
    """Mean net return per trade, after both fees."""
    trade_return_low: float | None
    """Lower end of its 95% interval."""

    @property
    def edge(self) -> bool:
        return (
            self.auc_low is not None
            and self.auc_low > 0.5
            and self.trade_return_low is not None
            and self.trade_return_low > 0.0
        )

    def describe(self) -> str:
        if self.auc is None or self.auc_low is None or self.auc_high is None:
            ranking = "no AUC: the out-of-sample labels are all one class"
        else:
            ranking = f"AUC {self.auc:.3f} (95% CI {self.auc_low:.3f}–{self.auc_high:.3f})"
        if self.trade_return is None:
            trading = f"no {self.basis}: the probability never reached the entry threshold"
        else:
            low = "n/a" if self.trade_return_low is None else f"{self.trade_return_low:+.3%}"
            trading = (
                f"{self.trades:,} {self.basis} returned {self.trade_return:+.3%} net on "
                f"average (95% lower bound {low})"
            )
        verdict = "edge" if self.edge else "no evidence of an edge"
        return f"{verdict}: {ranking}; {trading}"


@dataclass(frozen=True, slots=True)
class TrainingResult:
    estimator: Any
    metadata: ModelMetadata
    folds: tuple[FoldResult, ...]
    verdict: Verdict
    correlations: dict[str, float] = field(default_factory=dict)

    @property
    def strategy_return(self) -> float | None:
        """Out-of-sample strategy return compounded over the test windows."""
        return _compound([f.backtest.strategy_return for f in self.folds if f.backtest])

    @property
    def buy_hold_return(self) -> float | None:
        return _compound([f.backtest.buy_hold_return for f in self.folds if f.backtest])


def train_walk_forward(
    bars: Bars,
    symbol: str,
    config: TrainingConfig,
    *,
    runner: BacktestRunner | None = None,
    progress: Progress | None = None,
) -> TrainingResult:
    """Check the features for leakage, run the walk-forward folds (with a backtest per fold
    when `runner` is given), then fit the final model on every labelled row."""
    from sklearn.metrics import roc_auc_score

    report = progress or _no_progress
    check_lookahead(bars.frame, config.feature_set)
    dataset = build_dataset(bars, config.feature_set, config.horizon, config.fee_rate)
    correlations = check_label_correlation(dataset.frame, dataset.features)
    folds = walk_forward_folds(dataset.bar, config.folds, config.horizon, config.window)
    x, y, ts = dataset.x, dataset.y, dataset.frame["ts"]
    results: list[FoldResult] = []
    pooled_y: list[np.ndarray] = []
    pooled_p: list[np.ndarray] = []
    pooled_signals: list[np.ndarray] = []
    forward = dataset.frame["forward_return"].to_numpy()
    steps = len(folds) + 1
    with tempfile.TemporaryDirectory(prefix="kraken-tui-ml-") as scratch:
        for fold in folds:
            report("walk-forward folds", fold.number - 1, steps)
            _check_both_classes(y[fold.train], fold.number, config)
            estimator = make_estimator(config.model, config.seed)
            estimator.fit(x[fold.train], y[fold.train])
            probability = estimator.predict_proba(x[fold.test])[:, 1]
            truth = y[fold.test]
            pooled_y.append(truth)
            pooled_p.append(probability)
            chosen = probability >= config.enter
            pooled_signals.append(forward[fold.test][chosen])
            backtest = None
            if runner is not None:
                backtest = _backtest_fold(
                    runner, bars, symbol, config, dataset, fold, estimator, Path(scratch)
                )
            results.append(
                FoldResult(
                    number=fold.number,
                    train_start=ts[int(fold.train[0])],
                    train_end=ts[int(fold.train[-1])],
                    test_start=ts[int(fold.test[0])],
                    test_end=ts[int(fold.test[-1])],
                    n_train=len(fold.train),
                    n_test=len(fold.test),
                    purged=fold.purged,
                    base_rate=float(truth.mean()),
                    auc=_auc(roc_auc_score, truth, probability),
                    precision_at_enter=float(truth[chosen].mean()) if chosen.any() else None,
                    signals=int(chosen.sum()),
                    backtest=backtest,
                )
            )
        report("final model", len(folds), steps)
        verdict = judge(
            np.concatenate(pooled_y),
            np.concatenate(pooled_p),
            config.horizon,
            _trade_returns(results, np.concatenate(pooled_signals), config.horizon),
        )
        final = make_estimator(config.model, config.seed)
        final.fit(x, y)
        report("done", steps, steps)
    metadata = _metadata(bars, symbol, config, dataset)
    result = TrainingResult(final, metadata, tuple(results), verdict, correlations)
    return replace(result, metadata=replace(metadata, metrics=_metrics(result, config)))


def save_training(result: TrainingResult, path: str | Path) -> ModelMetadata:
    """Write the final model with its metadata; returns the metadata as stored (with hash)."""
    return save_model(path, result.estimator, result.metadata)


def _backtest_fold(
    runner: BacktestRunner,
    bars: Bars,
    symbol: str,
    config: TrainingConfig,
    dataset: Dataset,
    fold: Fold,
    estimator: Any,
    scratch: Path,
) -> BacktestOutcome:
    """Save the fold's model like a real one and backtest it over the fold's test window,
    starting the feed early enough that the strategy's first prediction falls on the window's
    first bar, never before it."""
    first_bar = int(dataset.bar[fold.test[0]])
    last_bar = int(dataset.bar[fold.test[-1]])
    feed_from = max(first_bar - (WARMUP_BARS - 1), 0)
    window = bars.frame.slice(feed_from, last_bar + 1 - feed_from)
    metadata = _metadata(
        Bars(bars.frame.slice(0, first_bar), bars.interval, bars.source),
        symbol,
        config,
        Dataset(dataset.frame[fold.train], dataset.features),
    )
    path = scratch / f"fold-{fold.number}.ktmodel"
    save_model(path, estimator, metadata)
    request = BacktestRequest(
        bars=Bars(window, bars.interval, bars.source),
        symbol=symbol,
        params={"model": str(path), "enter": config.enter, "exit": config.exit},
        trade_from=bars.frame["ts"][first_bar],
        fee_rate=Decimal(repr(config.fee_rate)),
    )
    return runner(request)


def _metadata(
    bars: Bars,
    symbol: str,
    config: TrainingConfig,
    dataset: Dataset,
) -> ModelMetadata:
    ts = dataset.frame["ts"]
    return ModelMetadata(
        model_kind=config.model,
        features=dataset.features,
        feature_version=FEATURE_VERSION,
        horizon=config.horizon,
        fee_rate=config.fee_rate,
        interval=bars.interval,
        symbol=symbol,
        train_start=ts[0].isoformat(),
        train_end=ts[-1].isoformat(),
        n_samples=len(dataset),
        metrics={},
        libraries=library_versions(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _metrics(result: TrainingResult, config: TrainingConfig) -> dict[str, Any]:
    verdict = result.verdict
    return {
        "validation": f"walk-forward, {config.window} window, purge {config.horizon} bars",
        "enter": config.enter,
        "exit": config.exit,
        "folds": [fold.to_json() for fold in result.folds],
        "oos_auc": verdict.auc,
        "oos_auc_ci95": [verdict.auc_low, verdict.auc_high],
        "oos_trade_basis": verdict.basis,
        "oos_trades": verdict.trades,
        "oos_trade_return": verdict.trade_return,
        "oos_trade_return_low95": verdict.trade_return_low,
        "edge": verdict.edge,
        "verdict": verdict.describe(),
        "oos_strategy_return": result.strategy_return,
        "oos_buy_hold_return": result.buy_hold_return,
        "feature_label_correlation": result.correlations,
    }


def _check_both_classes(labels: np.ndarray, fold: int, config: TrainingConfig) -> None:
    if labels.min() == labels.max():
        outcome = "clears" if labels[0] else "fails to clear"
        raise ValueError(
            f"fold {fold}: every training row {outcome} the fee ({config.fee_rate:.2%} per "
            f"side) over {config.horizon} bars, so there is nothing to learn; use a longer "
            "horizon, longer bars or a lower fee"
        )


def _auc(score: Callable[..., float], truth: np.ndarray, probability: np.ndarray) -> float | None:
    if truth.min() == truth.max():
        return None
    return float(score(truth, probability))


def judge(
    truth: np.ndarray,
    probability: np.ndarray,
    horizon: int,
    trades: tuple[str, np.ndarray, float],
) -> Verdict:
    """The verdict on out-of-sample predictions: pooled AUC with a Hanley–McNeil interval on an
    effective sample of n / horizon (labels `horizon` bars long overlap, so neighbouring rows
    are not independent evidence), and the mean trade return with a normal interval; `trades`
    is (basis, net returns, overlap), the returns' sample being shrunk by `overlap` likewise."""
    from sklearn.metrics import roc_auc_score

    auc = _auc(roc_auc_score, truth, probability)
    auc_low = auc_high = None
    if auc is not None:
        effective = max(len(truth) // horizon, 1)
        positives = max(round(float(truth.mean()) * effective), 1)
        negatives = max(effective - positives, 1)
        q1 = auc / (2.0 - auc)
        q2 = 2.0 * auc * auc / (1.0 + auc)
        variance = (
            auc * (1.0 - auc)
            + (positives - 1) * (q1 - auc * auc)
            + (negatives - 1) * (q2 - auc * auc)
        ) / (positives * negatives)
        half = Z_95 * math.sqrt(max(variance, 0.0))
        auc_low, auc_high = max(auc - half, 0.0), min(auc + half, 1.0)
    basis, returns, overlap = trades
    count = len(returns)
    mean = float(returns.mean()) if count else None
    low = None
    if mean is not None and count >= 2:
        effective_trades = max(count / overlap, 1.0)
        low = mean - Z_95 * float(returns.std(ddof=1)) / math.sqrt(effective_trades)
    return Verdict(auc, auc_low, auc_high, basis, count, mean, low)


def _trade_returns(
    folds: Sequence[FoldResult], signals: np.ndarray, horizon: int
) -> tuple[str, np.ndarray, float]:
    """The backtests' round trips when every fold was backtested (they do not overlap), else
    the signals held for the label horizon (which overlap when closer than `horizon` bars)."""
    if folds and all(fold.backtest is not None for fold in folds):
        returns = [r for fold in folds if fold.backtest for r in fold.backtest.round_trip_returns]
        return "round trips", np.array(returns, dtype=float), 1.0
    return "signals", signals, float(horizon)


def _compound(returns: Sequence[float]) -> float | None:
    if not returns:
        return None
    total = 1.0
    for value in returns:
        total *= 1.0 + value
    return total - 1.0


def _no_progress(stage: str, done: int, total: int) -> None:
    return None
