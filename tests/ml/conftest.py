"""Fixtures of the ML tests: one thread for scikit-learn, and models trained once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ml_synthetic import BARS, FEE_RATE, HORIZON, PLANTED_PHI, autoregressive_bars
from threadpoolctl import threadpool_limits

from kraken_tui.backtest.data import Bars
from kraken_tui.ml.oos_backtest import run_backtest
from kraken_tui.ml.train import TrainingConfig, TrainingResult, save_training, train_walk_forward


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    """The machine has two cores shared by many workers; OpenMP threads only contend there."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def planted_bars() -> Bars:
    return autoregressive_bars(BARS, phi=PLANTED_PHI, seed=7)


@pytest.fixture(scope="session")
def random_walk_bars() -> Bars:
    return autoregressive_bars(BARS, phi=0.0, seed=7)


@pytest.fixture(scope="session")
def training_config() -> TrainingConfig:
    return TrainingConfig(model="logreg", horizon=HORIZON, fee_rate=FEE_RATE, folds=4)


@pytest.fixture(scope="session")
def planted_result(planted_bars: Bars, training_config: TrainingConfig) -> TrainingResult:
    return train_walk_forward(planted_bars, "XBT/USD", training_config, runner=run_backtest)


@pytest.fixture(scope="session")
def planted_model(planted_result: TrainingResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "planted.ktmodel"
    save_training(planted_result, path)
    return path
