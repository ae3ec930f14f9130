"""The HTML report of a backtest, written by `kraken-tui backtest --report` and by the
backtest screen's `e` key, opened offline in headless Chromium: what a person sees there
(the metrics, the three charts, the trades) and that the page asks nothing of the network."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from headless_chromium import headless_chromium
from textual.app import App
from textual.widgets import Static

from kraken_tui.backtest.synthetic import generate_bars, write_ohlcvt_csv
from kraken_tui.store import Store
from kraken_tui.ui.screens.backtest_screen import BacktestScreen

TIMEOUT_S = 120

PAGE_FACTS = """(() => {
  const rows = {};
  for (const row of document.querySelectorAll("table.metrics tr")) {
    rows[row.querySelector("th").innerText] = row.querySelector("td").innerText;
  }
  const charts = {};
  for (const svg of document.querySelectorAll("svg.chart")) {
    const line = svg.querySelector("path.line");
    const kind = [...svg.classList].find((c) => c !== "chart");
    charts[kind] = {
      vertices: line ? line.getAttribute("d").split(" ").length : 0,
      width: svg.getBoundingClientRect().width,
      entries: svg.querySelectorAll("polygon").length,
      exits: svg.querySelectorAll("circle").length,
    };
  }
  return {
    title: document.title,
    headings: [...document.querySelectorAll("h2")].map((h) => h.innerText),
    metrics: rows,
    charts: charts,
    tradeRows: document.querySelectorAll("table.trades tbody tr").length,
    notes: [...document.querySelectorAll("p.note")].map((p) => p.innerText),
    text: document.body.innerText,
  };
})()"""


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


def sma_run(tmp_path: Path, data_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return backtest(
        tmp_path,
        "--strategy", "sma_cross",
        "--data", str(data_file),
        "--param", "fast=10",
        "--param", "slow=30",
        "--db", str(tmp_path / "runs.sqlite3"),
        *extra,
    )  # fmt: skip


def stored_metrics(db: Path, run_id: int = 1) -> dict[str, Any]:
    with sqlite3.connect(db) as connection:
        (raw,) = connection.execute(
            "SELECT metrics FROM backtest_runs WHERE id = ?", (run_id,)
        ).fetchone()
    metrics: dict[str, Any] = json.loads(raw)
    return metrics


async def open_offline(report: Path, screenshot: Path) -> tuple[dict[str, Any], list[str]]:
    """The page's facts and every URL it requested, with a screenshot to look at."""
    async with headless_chromium() as browser:
        tab = await browser.new_tab(width=1100, height=1400)
        await tab.goto(report.as_uri())
        facts = await tab.evaluate(PAGE_FACTS)
        await tab.screenshot(screenshot)
        return facts, tab.requests


async def test_cli_report_shows_the_runs_metrics_charts_and_trades_offline_in_chromium(
    tmp_path: Path, data_file: Path
) -> None:
    result = sma_run(tmp_path, data_file, "--report", "reports/run.html")
    assert result.returncode == 0, result.stderr
    report = tmp_path / "reports" / "run.html"
    assert f"report written to {report}" in result.stderr
    assert report.stat().st_mode & 0o077 == 0, "the report holds account figures: owner only"
    stored = stored_metrics(tmp_path / "runs.sqlite3")

    facts, requests = await open_offline(report, tmp_path / "report.png")

    assert requests == [report.as_uri()], "the report must load nothing beyond itself"
    assert "sma_cross on BTC/USD" in facts["title"]
    assert facts["metrics"]["total return"] == f"{stored['total_return']:+.2%}"
    assert facts["metrics"]["max drawdown"] == f"{-stored['max_drawdown']:.2%}"
    assert facts["metrics"]["Sharpe"] == f"{stored['sharpe']:.2f}"
    assert facts["metrics"]["trades"] == f"{stored['trade_count']:,}"
    charts = facts["charts"]
    assert set(charts) == {"equity", "drawdown", "price"}
    for kind, chart in charts.items():
        assert chart["vertices"] > 500, f"{kind} curve has {chart['vertices']} points"
        assert chart["width"] > 800, f"{kind} chart is drawn {chart['width']} px wide"
    trades = stored["trade_count"]
    assert trades > 5
    open_trades = 1 if stored["open_trade_pnl"] is not None else 0
    assert charts["price"]["entries"] == trades + open_trades
    assert charts["price"]["exits"] == trades
    assert facts["tradeRows"] == trades + open_trades
    assert "Trades on price (USD)" in facts["headings"]
    assert '"fast": 10' in facts["text"] and '"slow": 30' in facts["text"]


def test_report_of_a_sweep_is_refused_with_exit_2_before_running(
    tmp_path: Path, data_file: Path
) -> None:
    result = sma_run(tmp_path, data_file, "--sweep", "fast=5,10", "--report", "sweep.html")
    assert result.returncode == 2
    assert "--report writes one run" in result.stderr
    assert not (tmp_path / "sweep.html").exists()


def test_an_unwritable_report_path_fails_with_exit_1_naming_it(
    tmp_path: Path, data_file: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the report's folder should be")
    result = sma_run(tmp_path, data_file, "--report", str(blocker / "run.html"))
    assert result.returncode == 1
    assert f"cannot write the report {blocker / 'run.html'}" in result.stderr


async def test_e_on_the_backtest_screen_writes_the_selected_runs_report_and_says_where(
    tmp_path: Path, data_file: Path
) -> None:
    assert sma_run(tmp_path, data_file).returncode == 0
    assert sma_run(tmp_path, data_file, "--param", "fast=5").returncode == 0
    reports = tmp_path / "kept"
    store = await Store.open(tmp_path / "runs.sqlite3")
    try:

        class Host(App[None]):
            def on_mount(self) -> None:
                self.push_screen(BacktestScreen(store.backtests, run_id=1, report_dir=reports))

        async with Host().run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.3)
            await pilot.press("e")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause(0.1)
            status = str(pilot.app.screen.query_one("#report-status", Static).render())
    finally:
        await store.close()

    report = reports / "backtest-1-sma_cross-BTC-USD.html"
    assert status == f"report of run #1: {report.resolve()}"
    stored = stored_metrics(tmp_path / "runs.sqlite3", 1)
    facts, requests = await open_offline(report, tmp_path / "screen-report.png")
    assert requests == [report.as_uri()]
    assert "run #1" in facts["title"]
    assert facts["metrics"]["total return"] == f"{stored['total_return']:+.2%}"
    assert set(facts["charts"]) == {"equity", "drawdown", "price"}
    trades = stored["trade_count"] + (1 if stored["open_trade_pnl"] is not None else 0)
    assert facts["charts"]["price"]["entries"] == trades
    assert facts["tradeRows"] == trades
    assert any("stored summary" in note for note in facts["notes"])


async def test_a_stored_run_without_prices_reports_its_equity_and_says_why_no_trades_show(
    tmp_path: Path, data_file: Path
) -> None:
    result = sma_run(tmp_path, data_file, "--sweep", "fast=5,10")
    assert result.returncode == 0, result.stderr
    store = await Store.open(tmp_path / "runs.sqlite3")
    try:

        class Host(App[None]):
            def on_mount(self) -> None:
                self.push_screen(BacktestScreen(store.backtests, report_dir=tmp_path))

        async with Host().run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.3)
            await pilot.press("e")
            await pilot.app.workers.wait_for_complete()
    finally:
        await store.close()

    (report,) = await asyncio.to_thread(lambda: list(tmp_path.glob("backtest-*.html")))
    facts, _ = await open_offline(report, tmp_path / "sweep-point.png")
    assert set(facts["charts"]) == {"equity", "drawdown"}
    assert facts["charts"]["equity"]["vertices"] > 300
    assert any("stored without its prices and trades" in note for note in facts["notes"])
