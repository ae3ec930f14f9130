"""Future information planted in a feature is caught before any model is trained."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pytest

from kraken_tui.backtest.data import Bars
from kraken_tui.backtest.synthetic import generate_bars
from kraken_tui.ml.features import BAR_FEATURES, Feature, FeatureSet, LogReturn, Tracker
from kraken_tui.ml.leakage import LeakageError, check_label_correlation, check_lookahead
from kraken_tui.ml.train import TrainingConfig, build_dataset, train_walk_forward


@dataclass(frozen=True, slots=True)
class PeekAhead(Feature):
    """A plausible-looking bug: a 'return' computed with the shift pointing the wrong way."""

    bars: int = 3

    @property
    def name(self) -> str:
        return "ret_ahead"

    def expression(self) -> pl.Expr:
        close = pl.col("close")
        return (close.shift(-self.bars) / close).log()

    def tracker(self) -> Tracker:
        return LogReturn(self.bars).tracker()


@dataclass(frozen=True, slots=True)
class WholeSeriesZScore(Feature):
    """A subtler bug: normalising by statistics of the whole series, future included."""

    @property
    def name(self) -> str:
        return "close_z"

    def expression(self) -> pl.Expr:
        close = pl.col("close")
        return (close - close.mean()) / close.std()

    def tracker(self) -> Tracker:
        return LogReturn(1).tracker()


LEAKY = FeatureSet((*BAR_FEATURES.features, PeekAhead()))


@pytest.fixture(scope="module")
def bars() -> Bars:
    return generate_bars(1200, seed=21)


def test_the_real_features_pass_the_truncation_test(bars: Bars) -> None:
    check_lookahead(bars.frame, BAR_FEATURES)


def test_a_feature_shifted_into_the_future_is_caught_by_truncation(bars: Bars) -> None:
    with pytest.raises(LeakageError, match="ret_ahead") as caught:
        check_lookahead(bars.frame, LEAKY)
    assert "ret_1" not in str(caught.value)


def test_normalising_by_whole_series_statistics_is_caught_by_truncation(bars: Bars) -> None:
    leaky = FeatureSet((*BAR_FEATURES.features, WholeSeriesZScore()))
    with pytest.raises(LeakageError, match="close_z"):
        check_lookahead(bars.frame, leaky)


def test_a_feature_that_is_the_forward_return_trips_the_correlation_check(bars: Bars) -> None:
    dataset = build_dataset(bars, BAR_FEATURES, horizon=3, fee_rate=0.0)
    honest = check_label_correlation(dataset.frame, dataset.features)
    assert max(abs(c) for c in honest.values()) < 0.2
    planted = dataset.frame.with_columns(
        (pl.col("forward_return") + 1e-4 * pl.col("ret_1")).alias("upstream_leak")
    )
    with pytest.raises(LeakageError, match="upstream_leak"):
        check_label_correlation(planted, (*dataset.features, "upstream_leak"))


def test_training_refuses_to_start_when_a_feature_sees_the_future(bars: Bars) -> None:
    config = TrainingConfig(horizon=3, fee_rate=0.0, folds=2, feature_set=LEAKY)
    with pytest.raises(LeakageError, match="ret_ahead"):
        train_walk_forward(bars, "XBT/USD", config)
