"""The per-candle probability equals scikit-learn's `predict_proba` for every model family."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kraken_tui.ml.predictor import probability_function
from kraken_tui.ml.train import ModelKind, make_estimator


def training_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    # Features on wildly different scales, as returns, RSI and volume z-scores are.
    x = rng.standard_normal((800, 5)) * np.array([1e-3, 0.2, 1.0, 30.0, 1e-6])
    y = (x[:, 0] * 500 + x[:, 3] / 30 + rng.standard_normal(800) > 0).astype(int)
    return x, y


@pytest.mark.parametrize("kind", ["logreg", "gbt"])
def test_single_row_probabilities_equal_predict_proba(kind: ModelKind) -> None:
    x, y = training_data()
    estimator = make_estimator(kind).fit(x, y)
    probability = probability_function(estimator)
    expected = estimator.predict_proba(x[:200])[:, 1]
    actual = np.array([probability(tuple(row)) for row in x[:200]])
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)


def test_extreme_scores_saturate_instead_of_overflowing() -> None:
    x, y = training_data()
    estimator = make_estimator("logreg").fit(x, y)
    probability = probability_function(estimator)
    assert probability((1e6, 0.0, 0.0, 0.0, 0.0)) == 1.0
    assert probability((-1e6, 0.0, 0.0, 0.0, 0.0)) == 0.0


@pytest.mark.parametrize(
    "estimator",
    [
        make_pipeline(StandardScaler(with_mean=False), LogisticRegression()),
        make_pipeline(StandardScaler(with_std=False), LogisticRegression(C=0.1)),
        LogisticRegression(),
        HistGradientBoostingClassifier(max_iter=5),
    ],
)
def test_other_shapes_of_estimator_give_the_same_probabilities(estimator: Any) -> None:
    x, y = training_data()
    fitted = estimator.fit(x, y)
    probability = probability_function(fitted)
    expected = fitted.predict_proba(x[:50])[:, 1]
    np.testing.assert_allclose([probability(tuple(r)) for r in x[:50]], expected, rtol=1e-12)
