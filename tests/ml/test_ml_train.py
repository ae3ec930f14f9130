"""The pipeline finds a planted pattern out of sample and finds nothing in a random walk, so a
good result is evidence rather than an artefact of the pipeline."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from ml_synthetic import FEE_RATE, HORIZON

from kraken_tui.backtest.data import Bars
from kraken_tui.backtest.synthetic import generate_bars
from kraken_tui.ml.features import BAR_FEATURES, FEATURE_VERSION
from kraken_tui.ml.model_file import load_model
from kraken_tui.ml.oos_backtest import run_backtest
from kraken_tui.ml.train import TrainingConfig, TrainingResult, train_walk_forward


def round_trip_t_stat(result: TrainingResult) -> float:
    returns = np.array(
        [r for fold in result.folds if fold.backtest for r in fold.backtest.round_trip_returns]
    )
    if len(returns) < 2:
        return 0.0
    return float(returns.mean() / (returns.std(ddof=1) / math.sqrt(len(returns))))


def test_planted_pattern_is_found_out_of_sample_and_a_random_walk_shows_no_edge(
    planted_result: TrainingResult, random_walk_bars: Bars, training_config: TrainingConfig
) -> None:
    planted = planted_result
    assert planted.verdict.edge
    assert planted.verdict.basis == "round trips"
    assert planted.verdict.trade_return_low is not None and planted.verdict.trade_return_low > 0
    assert planted.verdict.auc is not None and planted.verdict.auc > 0.55
    assert all(fold.auc is not None and fold.auc > 0.5 for fold in planted.folds)
    assert planted.strategy_return is not None and planted.buy_hold_return is not None
    assert planted.strategy_return > 0.05
    assert planted.strategy_return > planted.buy_hold_return
    assert round_trip_t_stat(planted) > 2.0

    noise = train_walk_forward(random_walk_bars, "XBT/USD", training_config, runner=run_backtest)
    assert not noise.verdict.edge
    assert noise.verdict.auc is not None and abs(noise.verdict.auc - 0.5) < 0.03
    assert noise.strategy_return is not None and noise.strategy_return < 0.02
    assert round_trip_t_stat(noise) < 2.0


def test_boosted_trees_also_rank_the_planted_pattern_above_chance(planted_bars: Bars) -> None:
    config = TrainingConfig(model="gbt", horizon=HORIZON, fee_rate=FEE_RATE, folds=4)
    result = train_walk_forward(planted_bars, "XBT/USD", config)
    assert result.verdict.auc is not None and result.verdict.auc > 0.55
    assert result.verdict.auc_low is not None and result.verdict.auc_low > 0.5
    assert all(fold.backtest is None for fold in result.folds)
    assert result.verdict.basis == "signals"


def test_ranking_from_volatility_alone_is_not_called_an_edge() -> None:
    # A random walk whose volatility comes in regimes: with fees in the label, volatility
    # predicts which bars can clear the fee at all (in either direction), so the AUC is far
    # above chance, yet there is nothing to trade.
    bars = generate_bars(6000, seed=1)
    config = TrainingConfig(horizon=5, fee_rate=0.001, folds=4, enter=0.3, exit=0.25)
    result = train_walk_forward(bars, "XBT/USD", config, runner=run_backtest)
    assert result.verdict.auc_low is not None and result.verdict.auc_low > 0.5
    assert not result.verdict.edge
    assert result.verdict.describe().startswith("no evidence of an edge")


def test_every_fold_is_tested_after_its_training_with_the_purge_gap(
    planted_result: TrainingResult,
) -> None:
    for fold in planted_result.folds:
        assert fold.train_end < fold.test_start
        assert fold.purged == HORIZON
        assert fold.n_test > 0 and fold.n_train > 0
        assert 0.0 < fold.base_rate < 1.0
        assert fold.precision_at_enter is None or 0.0 <= fold.precision_at_enter <= 1.0
    for earlier, later in itertools.pairwise(planted_result.folds):
        assert earlier.test_end < later.test_start


def test_the_saved_model_records_what_it_needs_and_how_it_did(
    planted_model: Path, planted_result: TrainingResult, planted_bars: Bars
) -> None:
    meta = load_model(planted_model).metadata
    assert meta.features == BAR_FEATURES.names
    assert meta.feature_version == FEATURE_VERSION
    assert (meta.horizon, meta.fee_rate, meta.interval, meta.model_kind) == (
        HORIZON,
        FEE_RATE,
        1,
        "logreg",
    )
    assert meta.symbol == "XBT/USD"
    assert meta.train_start < meta.train_end
    assert meta.train_end <= planted_bars.frame["ts"][-1].isoformat()
    assert meta.metrics["edge"] is True
    assert meta.metrics["oos_auc"] == planted_result.verdict.auc
    assert len(meta.metrics["folds"]) == 4
    first = planted_result.folds[0].backtest
    assert first is not None
    assert meta.metrics["folds"][0]["strategy_return"] == first.strategy_return
    assert set(meta.libraries) >= {"python", "scikit-learn", "skops", "numpy", "polars"}


def test_a_fee_no_move_can_clear_is_refused_with_advice(random_walk_bars: Bars) -> None:
    config = TrainingConfig(horizon=1, fee_rate=0.05, folds=2)
    with pytest.raises(ValueError, match=r"fails to clear the fee .* use a longer horizon"):
        train_walk_forward(random_walk_bars, "XBT/USD", config)
