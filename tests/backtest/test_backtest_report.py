"""Report metrics against hand computations, terminal charts, exports and SQLite storage."""

from __future__ import annotations

import asyncio
import math
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from textual.app import App
from textual.widgets import DataTable

from kraken_tui.backtest.chart import EIGHTHS, bucketed, column_chart, labelled_chart
from kraken_tui.backtest.engine import BacktestConfig, BacktestResult
from kraken_tui.backtest.report import (
    annualized_return,
    backtest_run,
    compute_metrics,
    drawdown,
    drawdown_series,
    equity_returns,
    export_run,
    profit_factor,
    render_report,
    sharpe_ratio,
    sortino_ratio,
    store_runs,
    win_rate,
)
from kraken_tui.backtest.round_trips import RoundTrip
from kraken_tui.domain import Execution, Liquidity, Position, Side
from kraken_tui.sandbox.pairs import PairRegistry
from kraken_tui.store import BacktestRun, Store
from kraken_tui.ui.screens.backtest_screen import BacktestScreen, EquityChart

T0 = datetime(2024, 1, 1, tzinfo=UTC)
EQUITY = [110.0, 99.0, 99.0, 121.0]
"""From 100: +10 %, -10 %, 0 %, +22.2 %; one 10 % drawdown from bar 1 to bar 4."""


def test_returns_start_from_the_initial_equity() -> None:
    assert equity_returns(EQUITY, 100.0).tolist() == pytest.approx([0.1, -0.1, 0.0, 22 / 99])


def test_sharpe_is_mean_over_sample_deviation_scaled_by_root_periods() -> None:
    returns = [0.1, -0.1, 0.0, 22 / 99]
    expected = statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(365)
    assert sharpe_ratio(equity_returns(EQUITY, 100.0), 365) == pytest.approx(expected)


def test_sortino_divides_by_the_root_mean_square_of_losses_only() -> None:
    mean = (0.1 - 0.1 + 0.0 + 22 / 99) / 4
    downside = math.sqrt((0.1**2) / 4)  # one losing bar of -10 % out of four
    assert sortino_ratio(equity_returns(EQUITY, 100.0), 1) == pytest.approx(mean / downside)


def test_ratios_are_undefined_without_variation() -> None:
    flat = equity_returns([100.0, 100.0, 100.0], 100.0)
    assert sharpe_ratio(flat, 1) is None
    assert sortino_ratio(flat, 1) is None


def test_drawdown_depth_and_duration_of_a_recovered_fall() -> None:
    result = drawdown(EQUITY, 100.0)
    assert result.depth == pytest.approx(0.1)
    assert result.duration_bars == 3  # peak at bar 1 (110), back above it at bar 4
    assert result.longest_bars == 3


def test_deepest_drawdown_still_open_at_the_end_runs_to_the_last_bar() -> None:
    result = drawdown([90.0, 95.0, 100.0, 80.0, 85.0], 100.0)
    assert result.depth == pytest.approx(0.2)
    assert result.duration_bars == 2  # from the peak at bar 3 to the end, unrecovered
    assert result.longest_bars == 3  # the first, shallower fall lasted longer


def test_drawdown_series_measures_each_bar_below_the_running_peak() -> None:
    assert drawdown_series(EQUITY, 100.0).tolist() == pytest.approx([0.0, 0.1, 0.1, 0.0])


def test_trade_statistics_from_round_trip_pnls() -> None:
    pnls = [Decimal(10), Decimal(-5), Decimal(20), Decimal("-2.5")]
    assert win_rate(pnls) == 0.5
    assert profit_factor(pnls) == pytest.approx(30 / 7.5)
    assert profit_factor([Decimal(1)]) == math.inf
    assert profit_factor([]) is None
    assert win_rate([]) is None


def test_annualized_return_compounds_over_the_years_elapsed() -> None:
    assert annualized_return(0.21, 2.0) == pytest.approx(0.1)
    assert annualized_return(-1.0, 1.0) is None


def _trip(pnl: str, hours: int) -> RoundTrip:
    return RoundTrip(
        side="long",
        entry_ts=T0 + timedelta(hours=hours),
        exit_ts=T0 + timedelta(hours=hours, minutes=30),
        qty=Decimal("0.1"),
        entry_price=Decimal(100),
        exit_price=Decimal(100) + Decimal(pnl) * 10,
        pnl=Decimal(pnl),
        fees=Decimal("0.25"),
        fills=2,
    )


def hand_made_result() -> BacktestResult:
    """Four hourly bars, two trades (one won 10, one lost 5), long in two of the bars."""
    instrument = PairRegistry().resolve("XBT/USD").to_instrument()
    fill = Execution(
        exec_id="T1",
        order_id="O1",
        symbol=instrument.symbol,
        side=Side.BUY,
        price=Decimal("100.1"),
        qty=Decimal("0.1"),
        fee=Decimal("0.0250"),
        fee_ccy="USD",
        liquidity=Liquidity.TAKER,
        ts=T0,
        cl_ord_id="bt-1",
    )
    return BacktestResult(
        config=BacktestConfig("sma_cross", "XBT/USD"),
        instrument=instrument,
        params={"fast": 5},
        interval=60,
        equity=pl.DataFrame(
            {"ts": [T0 + timedelta(hours=h + 1) for h in range(4)], "equity": EQUITY}
        ),
        initial_equity=100.0,
        fills=(fill,),
        trips=(_trip("10", 0), _trip("-5", 2)),
        open_trip=None,
        final_position=Position(symbol=instrument.symbol),
        final_cash=Decimal(121),
        final_base=Decimal(0),
        fees_paid=Decimal("0.5"),
        orders_sent=4,
        orders_rejected=0,
        risk_denials=1,
        exposure_bars=2,
        unsent_requests=0,
        elapsed_s=0.01,
    )


def test_metrics_of_a_run_combine_equity_and_trades() -> None:
    metrics = compute_metrics(hand_made_result())
    assert metrics.start == T0
    assert metrics.end == T0 + timedelta(hours=4)
    assert metrics.total_return == pytest.approx(0.21)
    assert metrics.max_drawdown == pytest.approx(0.1)
    assert metrics.max_drawdown_duration == timedelta(hours=3)
    assert metrics.trade_count == 2
    assert metrics.win_rate == 0.5
    assert metrics.profit_factor == pytest.approx(2.0)
    assert metrics.exposure == 0.5
    assert metrics.fees_paid == Decimal("0.5")
    hourly = 525_600 / 60
    assert metrics.sharpe == pytest.approx(sharpe_ratio(equity_returns(EQUITY, 100.0), hourly))
    assert metrics.annualized_return == pytest.approx(1.21 ** (365 * 24 / 4) - 1)


def test_metrics_dictionary_is_json_safe() -> None:
    result = hand_made_result()
    winning = BacktestResult(**{**_fields(result), "trips": (_trip("3", 0),)})
    stored = compute_metrics(winning).as_dict()
    assert stored["profit_factor"] == "inf"
    assert stored["max_drawdown_duration"] == 3 * 3600.0
    assert stored["fees_paid"] == "0.5"
    assert stored["start"] == "2024-01-01T00:00:00+00:00"


def _fields(result: BacktestResult) -> dict[str, object]:
    return {name: getattr(result, name) for name in BacktestResult.__dataclass_fields__}


def test_column_chart_spans_the_full_height_from_lowest_to_highest() -> None:
    rows = column_chart([0.0, 1.0, 2.0, 3.0], width=4, height=2)
    assert len(rows) == 2
    bottom, top = rows[1], rows[0]
    assert top[-1] == EIGHTHS[8] and bottom[-1] == EIGHTHS[8]
    assert top[0] == " " and bottom[0] == EIGHTHS[1], "the lowest value keeps a sliver"


def test_long_series_are_bucketed_to_the_chart_width() -> None:
    values = [float(v) for v in range(100)]
    assert bucketed(values, 10) == [9.0, 19.0, 29.0, 39.0, 49.0, 59.0, 69.0, 79.0, 89.0, 99.0]
    assert bucketed(values, 10, min)[0] == 0.0
    assert all(len(row) == 10 for row in column_chart(values, 10, 3))


def test_labelled_chart_names_the_top_and_bottom_values() -> None:
    rows = labelled_chart([100.0, 150.0, 125.0], width=30, height=3)
    assert rows[0].startswith("150.00 ┤")
    assert rows[-1].startswith("100.00 ┤")


def test_terminal_report_shows_the_metrics_and_both_charts() -> None:
    result = hand_made_result()
    console = Console(record=True, width=100)
    console.print(render_report(result, compute_metrics(result)))
    text = console.export_text()
    for label in ("Sharpe", "Sortino", "max drawdown", "profit factor", "exposure", "fees paid"):
        assert label in text
    assert "equity (USD)" in text and "drawdown (%)" in text
    assert "+21.00%" in text


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_exports_keep_money_exact(tmp_path: Path, fmt: str) -> None:
    written = export_run(hand_made_result(), tmp_path, fmt)  # type: ignore[arg-type]
    assert [p.name for p in written] == [f"equity.{fmt}", f"trades.{fmt}", f"fills.{fmt}"]
    read = pl.read_csv if fmt == "csv" else pl.read_parquet
    trades = read(tmp_path / f"trades.{fmt}")
    assert trades.height == 2
    assert [Decimal(str(v)) for v in trades["pnl"].to_list()] == [Decimal(10), Decimal(-5)]
    fills = read(tmp_path / f"fills.{fmt}")
    assert Decimal(str(fills["price"][0])) == Decimal("100.1")
    equity = read(tmp_path / f"equity.{fmt}")
    assert equity["drawdown"].to_list() == pytest.approx([0.0, 0.1, 0.1, 0.0])


def test_runs_are_stored_with_parameters_and_a_curve_for_comparison(tmp_path: Path) -> None:
    result = hand_made_result()
    metrics = compute_metrics(result)
    db = tmp_path / "runs.sqlite3"
    (run_id,) = asyncio.run(store_runs(db, [backtest_run(result, metrics, "XBTUSD_60.csv")]))

    async def read_back() -> BacktestRun | None:
        store = await Store.open(db)
        try:
            return await store.backtests.get(run_id)
        finally:
            await store.close()

    stored = asyncio.run(read_back())
    assert stored is not None
    assert stored.strategy == "sma_cross"
    assert stored.params["params"] == {"fast": 5}
    assert stored.params["fees"]["taker"] == "0.004"
    assert stored.metrics["equity_curve"] == EQUITY
    assert stored.metrics["trade_count"] == 2
    assert stored.range_start == T0


# -- the stored report in the app's backtest screen ---------------------------------------------


async def test_backtest_screen_shows_a_stored_runs_metrics_and_equity_chart(
    tmp_path: Path,
) -> None:
    result = hand_made_result()
    metrics = compute_metrics(result)
    db = tmp_path / "runs.sqlite3"
    await store_runs(db, [backtest_run(result, metrics, "first.csv")])
    await store_runs(db, [backtest_run(result, metrics, "second.csv")])
    store = await Store.open(db)
    try:

        class Host(App[None]):
            def on_mount(self) -> None:
                self.push_screen(BacktestScreen(store.backtests, run_id=1))

        async with Host().run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.3)
            screen = pilot.app.screen
            runs = screen.query_one("#runs", DataTable)
            assert runs.row_count == 2
            table = screen.query_one("#metrics", DataTable)
            rows = {table.get_row_at(i)[0]: table.get_row_at(i)[1] for i in range(table.row_count)}
            assert rows["total return"] == "+21.00%"
            assert rows["trades"] == "2"
            chart = str(screen.query_one("#equity", EquityChart).render())
            assert "121.00 ┤" in chart and "█" in chart
            assert "first.csv" in str(screen.query_one("#run-params").render())
    finally:
        await store.close()


async def test_backtest_screen_says_so_when_a_stored_run_has_unreadable_metrics(
    tmp_path: Path,
) -> None:
    db = tmp_path / "runs.sqlite3"
    legacy = BacktestRun(
        created_at=T0, strategy="sma_cross", symbol="BTC/USD", data_path="old.csv",
        metrics={"total_return": 0.1},
    )  # fmt: skip
    await store_runs(db, [legacy])
    store = await Store.open(db)
    try:

        class Host(App[None]):
            def on_mount(self) -> None:
                self.push_screen(BacktestScreen(store.backtests))

        async with Host().run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.3)
            table = pilot.app.screen.query_one("#metrics", DataTable)
            assert table.row_count == 1
            assert str(table.get_row_at(0)[1]).startswith("unreadable")
            chart = str(pilot.app.screen.query_one("#equity", EquityChart).render())
            assert chart == "no equity curve stored"
    finally:
        await store.close()
