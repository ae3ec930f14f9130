"""`kraken-tui ml train` / `ml evaluate` as a user runs them (real subprocess): reports that fit
an 80-column terminal without cutting a header, the same figures as JSON, and `--interval` for
files not named like Kraken's."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ml_synthetic import FEE_RATE, HORIZON, START, autoregressive_bars
from rich.cells import cell_len

from kraken_tui.backtest.data import Bars
from kraken_tui.backtest.synthetic import write_ohlcvt_csv
from kraken_tui.ml.report import FOLD_BACKTEST_COLUMNS, FOLD_COLUMNS, SCORE_COLUMNS

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def prices(tmp_path: Path, planted_bars: Bars) -> Path:
    """The planted market in a file whose name says nothing about its interval."""
    return write_ohlcvt_csv(planted_bars, tmp_path / "btc-minutes.csv")


def train(
    run_cli: RunCli, data: Path, columns: int, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        *("ml", "train", "--data", str(data), "--symbol", "XBT/USD", "--out", "model.ktmodel"),
        *("--horizon", str(HORIZON), "--fee", str(FEE_RATE), "--folds", "4"),
        *extra,
        env={"COLUMNS": str(columns)},
    )


def header_line(output: str, columns: Any) -> str:
    """The line of the table whose headers are `columns`, which must all be whole on it."""
    names = [column.short for column in columns]
    for line in output.splitlines():
        if line.split()[:1] == names[0].split()[:1] and all(name in line for name in names):
            return line
    raise AssertionError(f"no header line with {names} in:\n{output}")


def assert_fits(output: str, width: int) -> None:
    too_wide = [line for line in output.splitlines() if cell_len(line) > width]
    assert not too_wide, too_wide


@pytest.mark.parametrize("columns", [80, 200])
def test_train_report_fits_the_terminal_with_every_header_whole(
    run_cli: RunCli, prices: Path, columns: int
) -> None:
    result = train(run_cli, prices, columns, "--interval", "1")
    assert result.returncode == 0, result.stderr
    assert_fits(result.stdout, columns)
    header_line(result.stdout, FOLD_COLUMNS)
    header_line(result.stdout, FOLD_BACKTEST_COLUMNS)
    cut = [line for line in result.stdout.splitlines() if "…" in line and "sha256" not in line]
    assert not cut, cut


def test_train_json_carries_the_figures_the_report_prints(run_cli: RunCli, prices: Path) -> None:
    text = train(run_cli, prices, 80, "--interval", "1")
    as_json = train(run_cli, prices, 80, "--interval", "1", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["interval"] == 1 and document["bars"] == 4000
    assert document["model_file"] == "model.ktmodel"
    folds = document["metrics"]["folds"]
    assert len(folds) == 4
    rows = [line.split() for line in text.stdout.splitlines()]
    for fold in folds:
        start = datetime.fromisoformat(fold["test"][0])
        scores = next(row for row in rows if row[:2] == [str(fold["fold"]), f"{start:%m-%d}"])
        assert scores[-6:] == [
            f"{fold['n_train']:,}",
            str(fold["purged"]),
            f"{fold['base_rate']:.3f}",
            f"{fold['auc']:.3f}",
            f"{fold['precision_at_enter']:.3f}",
            str(fold["signals"]),
        ]
        backtest = [
            str(fold["fold"]),
            f"{fold['strategy_return']:+.2%}",
            f"{fold['buy_hold_return']:+.2%}",
            str(fold["trades"]),
        ]
        assert backtest in rows
    assert document["metrics"]["verdict"] in text.stdout.replace("\n", " ").replace("  ", " ")


def test_train_without_an_interval_in_the_file_name_asks_for_the_option(
    run_cli: RunCli, prices: Path
) -> None:
    result = train(run_cli, prices, 80)
    assert result.returncode == 2
    assert "cannot tell the bar interval of btc-minutes.csv" in result.stderr
    assert "pass --interval MINUTES" in result.stderr


@pytest.mark.parametrize(
    ("name", "interval", "message"),
    [
        ("btc-minutes.csv", "0", "Invalid value for '--interval'"),
        ("btc-minutes.csv", "5", "--interval 5: btc-minutes.csv: bars are not 5 minute(s) apart"),
        ("XBTUSD_5.csv", "1", "--interval 1 conflicts with the file name XBTUSD_5.csv"),
    ],
)
def test_train_refuses_a_wrong_or_conflicting_interval_naming_the_option(
    run_cli: RunCli, tmp_path: Path, planted_bars: Bars, name: str, interval: str, message: str
) -> None:
    data = write_ohlcvt_csv(planted_bars, tmp_path / name)
    result = train(run_cli, data, 80, "--interval", interval)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "model.ktmodel").exists()


@pytest.mark.parametrize("columns", [80, 200])
def test_evaluate_report_fits_and_its_json_carries_the_same_scores(
    run_cli: RunCli, tmp_path: Path, planted_model: Path, columns: int
) -> None:
    later = autoregressive_bars(1500, phi=0.3, seed=99, start=START + timedelta(days=10))
    data = write_ohlcvt_csv(later, tmp_path / "later.csv")
    args = ("ml", "evaluate", "--model", str(planted_model), "--data", str(data), "--interval", "1")
    text = run_cli(*args, env={"COLUMNS": str(columns)})
    assert text.returncode == 0, text.stderr
    assert_fits(text.stdout, columns)
    header_line(text.stdout, SCORE_COLUMNS)
    as_json = run_cli(*args, "--format", "json", env={"COLUMNS": str(columns)})
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    scores = document["scores"]
    assert document["in_sample_rows"] == 0 and scores["rows"] == document["rows"]
    assert [
        f"{scores['rows']:,}",
        f"{scores['base_rate']:.3f}",
        f"{scores['auc']:.3f}",
        f"{scores['precision_at_enter']:.3f}",
        f"{scores['signals']:,}",
    ] in [line.split() for line in text.stdout.splitlines()]
    backtest = document["backtest"]
    assert f"strategy {backtest['strategy_return']:+.2%} vs buy-and-hold" in text.stdout
