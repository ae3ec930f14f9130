"""`kraken-tui backtest` as a user runs it (real subprocess): a report and a sweep ranking that
fit an 80-column terminal without cutting a header, the same figures as JSON for scripts, the
amends in the orders line, and `--interval` for files not named like Kraken's."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from kraken_tui.backtest.synthetic import (
    generate_bars,
    generate_trades,
    write_ohlcvt_csv,
    write_trades_csv,
)

RunCli = Callable[..., subprocess.CompletedProcess[str]]
SMA = ("--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=30", "--no-store")


def backtest(run_cli: RunCli, tmp_path: Path, columns: int, *args: str) -> Any:
    env = {"COLUMNS": str(columns), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return run_cli("backtest", *args, env=env)


def assert_fits(output: str, width: int) -> None:
    too_wide = [line for line in output.splitlines() if cell_len(line) > width]
    assert not too_wide, too_wide
    assert "…" not in output


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    """One-minute bars in a file whose name says nothing about their interval."""
    return write_ohlcvt_csv(generate_bars(2_000, seed=4), tmp_path / "prices.csv")


@pytest.mark.parametrize("columns", [80, 200])
def test_report_fits_the_terminal_and_json_carries_the_same_figures(
    run_cli: RunCli, tmp_path: Path, prices: Path, columns: int
) -> None:
    args = (*SMA, "--data", str(prices), "--interval", "1")
    text = backtest(run_cli, tmp_path, columns, *args)
    assert text.returncode == 0, text.stderr
    assert_fits(text.stdout, columns)
    as_json = backtest(run_cli, tmp_path, columns, *args, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["strategy"] == "sma_cross" and document["params"]["fast"] == 10
    metrics = document["metrics"]
    assert metrics["interval"] == 1 and metrics["bars"] == 2_000
    for shown in (
        f"{metrics['bars']:,} × 1 min",
        f"{metrics['final_equity']:,.2f} USD",
        f"{metrics['total_return']:+.2%}",
        f"{metrics['sharpe']:.2f}",
        f"{-metrics['max_drawdown']:.2%}",
        f"{float(metrics['fees_paid']):,.2f} USD",
        f"{metrics['orders_sent']:,} sent, {metrics['orders_amended']:,} amended, "
        f"{metrics['orders_rejected']:,} rejected",
    ):
        assert shown in text.stdout


def test_orders_line_counts_the_amends_of_a_requoting_market_maker(
    run_cli: RunCli, tmp_path: Path
) -> None:
    data = write_ohlcvt_csv(generate_bars(600, seed=3), tmp_path / "XBTUSD_1.csv")
    args = ("--strategy", "market_maker", "--param", "quote_size=0.01", "--no-store")
    as_json = backtest(run_cli, tmp_path, 80, *args, "--data", str(data), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    metrics = json.loads(as_json.stdout)["metrics"]
    assert metrics["orders_amended"] > 0
    text = backtest(run_cli, tmp_path, 80, *args, "--data", str(data))
    assert f"{metrics['orders_amended']:,} amended" in text.stdout


@pytest.mark.parametrize("columns", [80, 200])
def test_sweep_ranking_fits_with_whole_headers_and_json_ranks_the_same_points(
    run_cli: RunCli, tmp_path: Path, prices: Path, columns: int
) -> None:
    args = (
        *("--strategy", "sma_cross", "--data", str(prices), "--interval", "1", "--no-store"),
        *("--sweep", "fast=5,10", "--sweep", "slow=30,60", "--sweep", "kind=sma,ema"),
        *("--workers", "2"),
    )
    text = backtest(run_cli, tmp_path, columns, *args)
    assert text.returncode == 0, text.stderr
    assert_fits(text.stdout, columns)
    headers = ["rank", "fast", "slow", "kind", "sharpe", "return", "max DD", "trades"]
    assert any(all(h in line for h in headers) for line in text.stdout.splitlines())
    document = json.loads(backtest(run_cli, tmp_path, columns, *args, "--format", "json").stdout)
    assert document["points"] == 8 and document["metric"] == "sharpe"
    rows = [line.split() for line in text.stdout.splitlines()]
    for point in document["ranking"]:
        params, metrics = point["params"], point["metrics"]
        assert [
            str(point["rank"]),
            params["fast"],
            params["slow"],
            params["kind"],
            f"{metrics['sharpe']:.4g}",
            f"{metrics['total_return']:+.2%}",
            f"{-metrics['max_drawdown']:.2%}",
            f"{metrics['trade_count']:,}",
        ] in rows


def test_a_file_without_an_interval_in_its_name_asks_for_the_option(
    run_cli: RunCli, tmp_path: Path, prices: Path
) -> None:
    result = backtest(run_cli, tmp_path, 80, *SMA, "--data", str(prices))
    assert result.returncode == 2
    assert "cannot tell the bar interval of prices.csv" in result.stderr
    assert "pass --interval MINUTES" in result.stderr


def test_interval_option_reads_five_minute_bars_as_five_minute_bars(
    run_cli: RunCli, tmp_path: Path
) -> None:
    data = write_ohlcvt_csv(generate_bars(400, seed=4, interval=5), tmp_path / "prices.csv")
    result = backtest(
        run_cli, tmp_path, 80, *SMA, "--data", str(data), "--interval", "5", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]
    assert metrics["interval"] == 5 and metrics["bars"] == 400


@pytest.mark.parametrize(
    ("name", "bar_minutes", "extra", "message"),
    [
        ("prices.csv", 1, ["--interval", "0"], "Invalid value for '--interval'"),
        ("prices.csv", 1, ["--interval", "5"], "--interval 5: prices.csv: bars are not 5"),
        (
            "prices.csv",
            5,
            ["--interval", "1"],
            "--interval 1: prices.csv: every bar is a multiple of 5 minutes after the one "
            "before, so these are 5-minute bars; pass --interval 5",
        ),
        (
            "XBTUSD_1.csv",
            1,
            ["--interval", "5"],
            "--interval 5 conflicts with the file name XBTUSD_1.csv, which Kraken gives to "
            "1-minute bars",
        ),
        ("prices.csv", 1, ["--interval", "x"], "Invalid value for '--interval'"),
    ],
)
def test_a_wrong_or_conflicting_interval_exits_2_naming_the_option(
    run_cli: RunCli,
    tmp_path: Path,
    name: str,
    bar_minutes: int,
    extra: list[str],
    message: str,
) -> None:
    bars = generate_bars(300, seed=4, interval=bar_minutes)
    data = write_ohlcvt_csv(bars, tmp_path / name)
    result = backtest(run_cli, tmp_path, 200, *SMA, "--data", str(data), *extra)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_interval_with_time_and_sales_exits_2_pointing_to_resample(
    run_cli: RunCli, tmp_path: Path
) -> None:
    trades = write_trades_csv(
        generate_trades(generate_bars(60, seed=6), seed=6), tmp_path / "XBTUSD.csv"
    )
    result = backtest(
        run_cli, tmp_path, 80, *SMA, "--data", str(trades), "--trades", "--interval", "5"
    )
    assert result.returncode == 2
    assert "--interval is the bar length of an OHLCVT file" in result.stderr
    assert "--resample" in result.stderr
