"""`kraken-tui ml train` and `ml evaluate` through typer, on Kraken-format CSV files."""

from __future__ import annotations

import pickle
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from ml_synthetic import FEE_RATE, HORIZON, START, autoregressive_bars
from typer.testing import CliRunner

from kraken_tui.backtest.data import Bars
from kraken_tui.backtest.synthetic import write_ohlcvt_csv
from kraken_tui.ml.cli_ml import register
from kraken_tui.ml.model_file import read_model_metadata


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def main() -> None:
        """The main CLI's root, reduced to what `ml` needs."""

    register(root)
    return root


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, planted_bars: Bars) -> Path:
    directory = tmp_path_factory.mktemp("data")
    write_ohlcvt_csv(planted_bars, directory / "XBTUSD_1.csv")
    later = autoregressive_bars(1500, phi=0.3, seed=99, start=START + timedelta(days=10))
    (directory / "later").mkdir()
    write_ohlcvt_csv(later, directory / "later" / "XBTUSD_1.csv")
    return directory


def run(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def train_args(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        "ml",
        "train",
        "--data",
        str(data_dir / "XBTUSD_1.csv"),
        "--symbol",
        "XBT/USD",
        "--out",
        str(out),
        "--horizon",
        str(HORIZON),
        "--fee",
        str(FEE_RATE),
        "--folds",
        "4",
        *extra,
    ]


@pytest.fixture(scope="module")
def trained(app: typer.Typer, data_dir: Path) -> tuple[Path, str]:
    out = data_dir / "model.ktmodel"
    code, output = run(app, *train_args(data_dir, out))
    assert code == 0, output
    return out, output


def test_train_prints_the_walk_forward_report_and_saves_the_model(
    trained: tuple[Path, str],
) -> None:
    out, output = trained
    assert "walk-forward folds (every score is out of sample)" in output
    assert "edge: AUC" in output
    assert "out-of-sample backtest, compounded over the test windows: strategy +" in output
    assert f"saved {out}" in output
    meta = read_model_metadata(out)
    assert meta.horizon == HORIZON and meta.symbol == "XBT/USD" and meta.metrics["edge"]


def test_train_with_boosted_trees_on_a_rolling_window(app: typer.Typer, data_dir: Path) -> None:
    out = data_dir / "gbt.ktmodel"
    code, output = run(app, *train_args(data_dir, out, "--model", "gbt", "--window", "rolling"))
    assert code == 0, output
    meta = read_model_metadata(out)
    assert meta.model_kind == "gbt"
    assert meta.metrics["validation"] == f"walk-forward, rolling window, purge {HORIZON} bars"


def test_evaluate_scores_a_model_on_later_data_as_out_of_sample(
    app: typer.Typer, trained: tuple[Path, str], data_dir: Path
) -> None:
    model, _ = trained
    code, output = run(
        app, "ml", "evaluate", "--model", str(model), "--data", str(data_dir / "later/XBTUSD_1.csv")
    )
    assert code == 0, output
    assert "out-of-sample scores" in output
    assert "inside the training range" not in output
    assert "backtest: strategy" in output and "vs buy-and-hold" in output
    assert "fees" in output and " USD, in the market" in output
    assert "round trips returned" in output


def test_evaluate_on_the_training_data_warns_that_it_is_in_sample(
    app: typer.Typer, trained: tuple[Path, str], data_dir: Path
) -> None:
    model, _ = trained
    code, output = run(
        app, "ml", "evaluate", "--model", str(model), "--data", str(data_dir / "XBTUSD_1.csv")
    )
    assert code == 0, output
    assert "fall inside the training range" in output
    assert "flatters the model" in output


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--data", "missing_1.csv", "data file not found"),
        ("--symbol", "NOPE/USD", "unknown symbol 'NOPE/USD'"),
        ("--enter", "0.4", "thresholds must satisfy 0 < exit <= enter < 1"),
        ("--folds", "40", "too few for 40 folds"),
        ("--out", "no/such/dir/m.ktmodel", "output directory does not exist"),
    ],
)
def test_train_refuses_bad_input_with_exit_code_2(
    app: typer.Typer, data_dir: Path, flag: str, value: str, message: str
) -> None:
    args = train_args(data_dir, data_dir / "unused.ktmodel")
    if flag in ("--data", "--out"):
        value = str(data_dir / value)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    code, output = run(app, *args)
    assert code == 2
    assert message in output
    assert not (data_dir / "unused.ktmodel").exists()


def test_an_unknown_model_family_is_a_usage_error(app: typer.Typer, data_dir: Path) -> None:
    code, output = run(app, *train_args(data_dir, data_dir / "x.ktmodel", "--model", "forest"))
    assert code == 2
    assert "forest" in output


def test_evaluate_refuses_a_pickle_file_with_exit_code_2(
    app: typer.Typer, data_dir: Path, tmp_path: Path
) -> None:
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps([1, 2, 3]))
    code, output = run(
        app, "ml", "evaluate", "--model", str(pickled), "--data", str(data_dir / "XBTUSD_1.csv")
    )
    assert code == 2
    assert "pickle files are never loaded" in output


def test_evaluate_refuses_data_of_an_interval_the_model_cannot_use(
    app: typer.Typer, trained: tuple[Path, str], tmp_path: Path, planted_bars: Bars
) -> None:
    model, _ = trained
    coarse = tmp_path / "XBTUSD_7.csv"
    write_ohlcvt_csv(Bars(planted_bars.frame.gather_every(7), 7), coarse)
    code, output = run(app, "ml", "evaluate", "--model", str(model), "--data", str(coarse))
    assert code == 2
    assert "7-minute bars" in output
