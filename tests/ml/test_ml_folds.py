"""Walk-forward folds never train on a label that overlaps the window they are tested on."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kraken_tui.ml.train import MIN_ROWS_PER_FOLD, WindowKind, walk_forward_folds


@pytest.mark.parametrize("window", ["expanding", "rolling"])
def test_test_windows_follow_each_other_and_training_always_ends_before_them(
    window: WindowKind,
) -> None:
    bar = np.arange(1000) + 200
    folds = walk_forward_folds(bar, folds=4, horizon=5, window=window)
    assert [f.number for f in folds] == [1, 2, 3, 4]
    for previous, fold in itertools.pairwise(folds):
        assert fold.test[0] == previous.test[-1] + 1
    for fold in folds:
        assert len(fold.test) == 200
        assert fold.train.max() < fold.test.min()


@pytest.mark.parametrize("horizon", [1, 5, 30])
def test_training_rows_whose_labels_reach_into_the_test_window_are_purged(horizon: int) -> None:
    bar = np.arange(2000)
    for fold in walk_forward_folds(bar, folds=3, horizon=horizon):
        label_ends = bar[fold.train] + horizon
        assert label_ends.max() < bar[fold.test[0]]
        assert fold.purged == horizon
        assert bar[fold.train[-1]] == bar[fold.test[0]] - horizon - 1


def test_the_purge_is_measured_in_bars_not_rows_when_rows_are_missing() -> None:
    # Rows 10 bars apart: 25-bar labels from the two rows just before the test window end
    # inside it (5 and 15 bars in), the one 30 bars before ends 5 bars short of it.
    bar = np.arange(0, 10_000, 10)
    fold = walk_forward_folds(bar, folds=2, horizon=25)[0]
    assert bar[fold.train[-1]] == bar[fold.test[0]] - 30
    assert fold.purged == 2


def test_the_expanding_window_keeps_all_history_and_the_rolling_one_a_fixed_span() -> None:
    bar = np.arange(1200)
    expanding = walk_forward_folds(bar, folds=3, horizon=2, window="expanding")
    rolling = walk_forward_folds(bar, folds=3, horizon=2, window="rolling")
    assert all(fold.train[0] == 0 for fold in expanding)
    assert len({len(fold.train) for fold in rolling}) == 1
    assert [f.train[0] for f in rolling] == [0, 300, 600]


def test_too_little_data_for_the_folds_is_refused() -> None:
    with pytest.raises(ValueError, match="too few"):
        walk_forward_folds(np.arange(MIN_ROWS_PER_FOLD * 3), folds=5, horizon=1)


def test_a_horizon_that_purges_almost_all_training_rows_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter horizon"):
        walk_forward_folds(np.arange(1000), folds=4, horizon=150)
