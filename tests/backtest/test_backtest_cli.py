"""`kraken-tui backtest` in a real subprocess: reports, storage, exports and exit code 2 on
bad input."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kraken_tui.backtest.synthetic import (
    generate_bars,
    generate_trades,
    write_ohlcvt_csv,
    write_trades_csv,
)

TIMEOUT_S = 120


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("data")
    return write_ohlcvt_csv(generate_bars(2_000, seed=4), directory / "XBTUSD_1.csv")


def backtest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "kraken_tui", "backtest", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=tmp_path,
        env=env,
        check=False,
    )


def test_good_run_prints_the_report_stores_it_and_exports_files(
    tmp_path: Path, data_file: Path
) -> None:
    db = tmp_path / "runs.sqlite3"
    result = backtest(
        tmp_path,
        "--strategy", "sma_cross",
        "--data", str(data_file),
        "--symbol", "XBT/USD",
        "--from", "2024-01-01T06:00",
        "--param", "fast=10",
        "--param", "slow=30",
        "--db", str(db),
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for label in ("total return", "Sharpe", "Sortino", "max drawdown", "win rate", "exposure"):
        assert label in result.stdout
    assert "equity (USD)" in result.stdout
    assert "stored as backtest run #1" in result.stdout
    with sqlite3.connect(db) as connection:
        strategy, params, start = connection.execute(
            "SELECT strategy, params, range_start FROM backtest_runs"
        ).fetchone()
    assert strategy == "sma_cross"
    assert '"fast":10' in params and '"slow":30' in params
    assert start.startswith("2024-01-01T06:00")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "equity.csv",
        "fills.csv",
        "trades.csv",
    ]


def test_time_and_sales_are_replayed_trade_by_trade_with_candles_of_the_chosen_interval(
    tmp_path: Path,
) -> None:
    bars = generate_bars(600, seed=6)
    tape = write_trades_csv(generate_trades(bars, seed=6), tmp_path / "XBTUSD.csv")
    result = backtest(
        tmp_path,
        "--strategy", "sma_cross",
        "--data", str(tape),
        "--trades",
        "--resample", "5",
        "--param", "fast=3",
        "--param", "slow=8",
        "--no-store",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "120 × 5 min" in result.stdout


def test_root_database_option_is_where_the_run_is_stored(tmp_path: Path, data_file: Path) -> None:
    db = tmp_path / "root.sqlite3"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-m", "kraken_tui", "--db", str(db), "backtest",
         "--strategy", "sma_cross", "--data", str(data_file)],
        capture_output=True, text=True, timeout=TIMEOUT_S, cwd=tmp_path, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"stored as backtest run #1 in {db}" in result.stdout.replace("\n", "")


def test_sweep_ranks_the_grid_and_stores_every_point(tmp_path: Path, data_file: Path) -> None:
    db = tmp_path / "runs.sqlite3"
    result = backtest(
        tmp_path,
        "--strategy", "sma_cross",
        "--data", str(data_file),
        "--sweep", "fast=5,10",
        "--sweep", "slow=30,60",
        "--metric", "total_return",
        "--workers", "2",
        "--db", str(db),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "best 4 of 4 by total_return" in result.stdout
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM backtest_runs").fetchone() == (4,)


def test_missing_data_file_exits_2_naming_it(tmp_path: Path) -> None:
    result = backtest(tmp_path, "--strategy", "sma_cross", "--data", "missing/XBTUSD_1.csv")
    assert result.returncode == 2
    assert "data file not found: missing/XBTUSD_1.csv" in result.stderr


def test_file_with_the_wrong_columns_exits_2_explaining_the_layout(tmp_path: Path) -> None:
    trades = tmp_path / "XBTUSD_1.csv"
    trades.write_text("1704067200.5,42000.1,0.5\n1704067201.0,42000.2,0.1\n")
    result = backtest(tmp_path, "--strategy", "sma_cross", "--data", str(trades), "--no-store")
    assert result.returncode == 2
    assert "has 3 columns per line but a Kraken OHLCVT file has 7" in result.stderr


def test_malformed_lines_exit_2_with_their_line_numbers(tmp_path: Path) -> None:
    bad = tmp_path / "XBTUSD_1.csv"
    bad.write_text("1704067200,1,2,1,1,5,3\n1704067260,abc,2,1,1,5,3\n")
    result = backtest(tmp_path, "--strategy", "sma_cross", "--data", str(bad), "--no-store")
    assert result.returncode == 2
    assert "line 2: open is not a number" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "fast=ten"], "params.fast: Input should be a valid integer"),
        (["--param", "speed=3"], "params.speed: Extra inputs are not permitted"),
        (["--param", "fast=30", "--param", "slow=10"], "params.slow: Value error, slow must"),
        (["--param", "fast"], "--param 'fast' must look like name=value"),
        (["--sweep", "fast=5,x"], "params.fast: Input should be a valid integer"),
        (["--sweep", "fast=5", "--metric", "luck"], "cannot rank by 'luck'"),
        (["--symbol", "DOGE/EUR"], "unknown symbol 'DOGE/EUR'"),
        (["--slippage-bps", "lots"], "--slippage-bps 'lots' is not a number"),
        (["--from", "2031-01-01"], "no bars to replay"),
        (["--from", "someday"], "Invalid value for '--from'"),
    ],
)
def test_bad_parameters_exit_2_naming_the_parameter(
    tmp_path: Path, data_file: Path, args: list[str], message: str
) -> None:
    result = backtest(
        tmp_path, "--strategy", "sma_cross", "--data", str(data_file), "--no-store", *args
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_strategy_exits_2_listing_the_registered_ones(
    tmp_path: Path, data_file: Path
) -> None:
    result = backtest(tmp_path, "--strategy", "nope", "--data", str(data_file), "--no-store")
    assert result.returncode == 2
    assert "no strategy registered as 'nope'" in result.stderr
    assert "sma_cross" in result.stderr
