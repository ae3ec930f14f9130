"""Parameter sweeps: grid parsing, ranking, and parallel runs equal to serial ones."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

import pytest

from kraken_tui.backtest.engine import BacktestConfig, Backtester, BacktestSetupError
from kraken_tui.backtest.report import compute_metrics
from kraken_tui.backtest.sweep import (
    DataSpec,
    SweepError,
    SweepOutcome,
    check_metric,
    grid_points,
    parse_grid,
    rank,
    run_sweep,
)
from kraken_tui.backtest.synthetic import generate_bars
from kraken_tui.sandbox.fees import FeeSchedule


def test_grid_text_becomes_value_lists_per_parameter() -> None:
    grid = parse_grid(["fast=5, 10", "slow=20,30,40"])
    assert grid == {"fast": ["5", "10"], "slow": ["20", "30", "40"]}
    points = grid_points(grid)
    assert len(points) == 6
    assert points[0] == {"fast": "5", "slow": "20"}
    assert points[-1] == {"fast": "10", "slow": "40"}


@pytest.mark.parametrize("item", ["fast", "=5,10", "fast=", "fast= , "])
def test_malformed_grid_items_are_refused(item: str) -> None:
    with pytest.raises(SweepError, match="must look like name=a,b,c"):
        parse_grid([item])


def test_a_parameter_swept_twice_is_refused() -> None:
    with pytest.raises(SweepError, match="names 'fast' twice"):
        parse_grid(["fast=1", "fast=2"])


def test_unknown_ranking_metric_lists_the_choices() -> None:
    with pytest.raises(SweepError, match=r"choose one of .*sharpe"):
        check_metric("luck")


BASE_METRICS = compute_metrics(
    Backtester(
        BacktestConfig("sma_cross", "XBT/USD", {"fast": 2, "slow": 3}), generate_bars(50, seed=1)
    ).run()
)


def _outcome(name: str, sharpe: float | None, drawdown: float) -> SweepOutcome:
    metrics = replace(BASE_METRICS, sharpe=sharpe, max_drawdown=drawdown)
    return SweepOutcome({"name": name}, metrics, None)


def test_ranking_puts_the_best_first_and_undefined_scores_last() -> None:
    outcomes = [
        _outcome("a", 0.5, 0.30),
        _outcome("b", None, 0.10),
        _outcome("c", 1.5, 0.20),
        SweepOutcome({"name": "d"}, None, None, "failed"),
        _outcome("e", math.inf, 0.40),
    ]
    assert [o.params["name"] for o in rank(outcomes, "sharpe")] == ["e", "c", "a", "b", "d"]
    by_drawdown = [o.params["name"] for o in rank(outcomes, "max_drawdown")]
    assert by_drawdown == ["b", "c", "a", "e", "d"], "a smaller drawdown is better"


def test_invalid_point_fails_before_any_worker_starts() -> None:
    data = DataSpec(frame=generate_bars(100, seed=2).frame)
    with pytest.raises(BacktestSetupError, match=r"params\.fast"):
        run_sweep(BacktestConfig("sma_cross", "XBT/USD"), data, {"fast": ["5", "five"]})


def test_parallel_sweep_gives_each_point_the_result_of_a_serial_run() -> None:
    bars = generate_bars(3_000, seed=11)
    base = BacktestConfig(
        "sma_cross",
        "XBT/USD",
        {"volume": "0.01"},
        fees=FeeSchedule(maker=Decimal("0.0016"), taker=Decimal("0.0026")),
    )
    grid = {"fast": ["5", "10"], "slow": ["20", "40"]}
    finished: list[SweepOutcome] = []
    outcomes = run_sweep(base, DataSpec(frame=bars.frame), grid, workers=2, on_done=finished.append)
    assert len(outcomes) == 4 and finished == outcomes
    for outcome in outcomes:
        assert outcome.error is None and outcome.metrics is not None and outcome.run is not None
        serial = Backtester(
            BacktestConfig(
                base.strategy, base.symbol, {**base.params, **outcome.params}, fees=base.fees
            ),
            bars,
        ).run()
        expected = compute_metrics(serial)
        assert outcome.metrics.final_equity == expected.final_equity
        assert outcome.metrics.trade_count == expected.trade_count
        assert outcome.run.params["params"]["fast"] == int(outcome.params["fast"])
    ranked = rank(outcomes, "total_return")
    returns = [o.metrics.total_return for o in ranked if o.metrics is not None]
    assert returns == sorted(returns, reverse=True)
