"""Out-of-sample backtests run the model strategy through the real Backtester and compare it
with buy-and-hold like for like."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kraken_tui.backtest.data import Bars
from kraken_tui.backtest.fill_model import FillModel
from kraken_tui.ml.features import WARMUP_BARS
from kraken_tui.ml.oos_backtest import BacktestRequest, instrument_for, run_backtest

FEE = Decimal("0.0005")


@pytest.fixture(scope="module")
def request_for(planted_bars: Bars, planted_model: Path) -> BacktestRequest:
    window = planted_bars.frame.tail(900)
    return BacktestRequest(
        bars=Bars(window, planted_bars.interval),
        symbol="XBT/USD",
        params={"model": str(planted_model), "enter": 0.55, "exit": 0.5},
        trade_from=window["ts"][WARMUP_BARS - 1],
        fee_rate=FEE,
    )


def test_buy_and_hold_buys_the_notional_at_the_first_close_paying_the_fee(
    request_for: BacktestRequest,
) -> None:
    outcome = run_backtest(request_for)
    measured = request_for.bars.frame.filter(request_for.bars.frame["ts"] >= request_for.trade_from)
    first = Decimal(repr(measured["close"][0]))
    last = Decimal(repr(measured["close"][-1]))
    held = instrument_for("XBT/USD").round_volume(request_for.notional / first)
    expected = (held * (last - first) - held * first * FEE) / request_for.notional
    assert outcome.buy_hold_return == pytest.approx(float(expected))
    assert outcome.bars == measured.height


def test_the_strategy_trades_through_the_backtester_and_pays_its_fees(
    request_for: BacktestRequest,
) -> None:
    outcome = run_backtest(request_for)
    assert outcome.trades >= 10
    assert outcome.fees > 0
    assert len(outcome.round_trip_returns) >= outcome.trades // 2 - 1
    assert 0.0 < outcome.time_in_market < 1.0


def test_slippage_bound_into_the_runner_costs_the_strategy(request_for: BacktestRequest) -> None:
    clean = run_backtest(request_for)
    slipped = run_backtest(request_for, fill=FillModel(slippage_bps=Decimal(5)))
    assert slipped.trades == clean.trades
    assert slipped.strategy_return < clean.strategy_return
    assert slipped.buy_hold_return == clean.buy_hold_return


def test_a_request_without_bars_to_measure_is_refused(request_for: BacktestRequest) -> None:
    frame = request_for.bars.frame.head(10)
    late = BacktestRequest(
        bars=Bars(frame, 1),
        symbol="XBT/USD",
        params=request_for.params,
        trade_from=request_for.bars.frame["ts"][-1],
        fee_rate=FEE,
    )
    with pytest.raises(ValueError, match="no bars at or after trade_from"):
        run_backtest(late)
