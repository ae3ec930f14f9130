from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.backtest.clock import MINUTES_PER_YEAR
from kraken_tui.backtest.data import (
    BAR_SCHEMA,
    TRADES_SCHEMA,
    Bars,
    load_ohlcvt,
    load_trades,
    trades_to_bars,
)
from kraken_tui.backtest.synthetic import (
    MIN_TRADES_PER_BAR,
    MarketModel,
    generate_bars,
    generate_trades,
    write_ohlcvt_csv,
    write_trades_csv,
)


@pytest.fixture(scope="module")
def quarter() -> Bars:
    return generate_bars(MINUTES_PER_YEAR // 4, seed=42)


def log_returns(bars: Bars) -> np.ndarray:
    return np.diff(np.log(bars.frame["close"].to_numpy()))


def autocorrelation(series: np.ndarray, lag: int) -> float:
    return float(np.corrcoef(series[:-lag], series[lag:])[0, 1])


def test_same_seed_gives_identical_bars_and_other_seeds_differ() -> None:
    first = generate_bars(1_000, seed=7)
    assert first.frame.equals(generate_bars(1_000, seed=7).frame)
    assert not first.frame.equals(generate_bars(1_000, seed=8).frame)


def test_bars_are_consecutive_on_the_interval_from_floored_start() -> None:
    start = datetime(2024, 3, 1, 12, 7, 30, tzinfo=UTC)
    bars = generate_bars(10, seed=1, interval=5, start=start)
    assert bars.interval == 5
    assert bars.frame.schema == BAR_SCHEMA
    assert bars.frame["ts"][0] == datetime(2024, 3, 1, 12, 5, tzinfo=UTC)
    assert bars.frame["ts"].diff().drop_nulls().unique().to_list() == [timedelta(minutes=5)]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), n_bars=st.integers(1, 2_000))
def test_bars_are_internally_consistent_for_any_seed(seed: int, n_bars: int) -> None:
    frame = generate_bars(n_bars, seed=seed).frame
    assert frame.height == n_bars
    checks = frame.select(
        (pl.col("low") <= pl.min_horizontal("open", "close")).all().alias("low_below_body"),
        (pl.col("high") >= pl.max_horizontal("open", "close")).all().alias("high_above_body"),
        (pl.col("low") > 0).all().alias("positive"),
        (pl.col("open").shift(-1) == pl.col("close")).drop_nulls().all().alias("continuous"),
        (pl.col("close") == pl.col("close").round(1)).all().alias("on_tick"),
        (pl.col("volume") > 0).all().alias("volume"),
        (pl.col("trades") >= MIN_TRADES_PER_BAR).all().alias("trades"),
    )
    assert checks.row(0) == (True,) * checks.width


def test_open_jitter_moves_opens_off_the_previous_close_and_keeps_bars_consistent() -> None:
    frame = generate_bars(5_000, seed=4, model=MarketModel(open_jitter=0.0003)).frame
    gaps = (frame["open"].shift(-1) / frame["close"] - 1).drop_nulls()
    assert (gaps != 0).mean() > 0.9
    assert 0.0002 < gaps.std() < 0.0004
    checks = frame.select(
        (pl.col("low") <= pl.min_horizontal("open", "close")).all(),
        (pl.col("high") >= pl.max_horizontal("open", "close")).all(),
        (pl.col("open") == pl.col("open").round(1)).all(),
    )
    assert checks.row(0) == (True, True, True)
    plain = generate_bars(5_000, seed=4).frame
    assert frame["close"].equals(plain["close"]), "the jitter moves opens, not the walk"


def test_realized_volatility_is_close_to_the_model(quarter: Bars) -> None:
    annualized = float(np.std(log_returns(quarter)) * np.sqrt(MINUTES_PER_YEAR))
    assert 0.45 < annualized < 0.75


def test_volatility_clusters_while_returns_stay_unpredictable(quarter: Bars) -> None:
    returns = log_returns(quarter)
    assert abs(autocorrelation(returns, 1)) < 0.02
    assert autocorrelation(np.abs(returns), 1) > 0.1
    assert autocorrelation(np.abs(returns), 60) > 0.05


def test_returns_have_fat_tails(quarter: Bars) -> None:
    returns = log_returns(quarter)
    standardized = (returns - returns.mean()) / returns.std()
    assert float(np.mean(standardized**4)) > 4.0


def test_volume_follows_the_intraday_cycle(quarter: Bars) -> None:
    by_hour = (
        quarter.frame.group_by(pl.col("ts").dt.hour().alias("hour"))
        .agg(pl.col("volume").mean())
        .sort("hour")["volume"]
        .to_list()
    )
    assert by_hour[15] > 1.5 * by_hour[3]


def test_jumps_appear_when_the_model_asks_for_them() -> None:
    calm = MarketModel(jumps_per_year=0.0, volatility_of_volatility=0.01)
    jumpy = MarketModel(jumps_per_year=20_000.0, jump_stdev=0.02, volatility_of_volatility=0.01)
    calm_max = np.max(np.abs(log_returns(generate_bars(20_000, seed=3, model=calm))))
    jumpy_max = np.max(np.abs(log_returns(generate_bars(20_000, seed=3, model=jumpy))))
    assert jumpy_max > 3 * calm_max


def test_bars_round_trip_exactly_through_a_kraken_csv(tmp_path: Path) -> None:
    bars = generate_bars(3_000, seed=9)
    path = write_ohlcvt_csv(bars, tmp_path / "XBTUSD_1.csv")
    first_line = path.read_text().splitlines()[0].split(",")
    assert len(first_line) == 7
    assert "e" not in first_line[5]
    assert load_ohlcvt(path).frame.equals(bars.frame)


def test_trades_aggregate_back_into_the_bars_they_came_from() -> None:
    bars = generate_bars(500, seed=4)
    trades = generate_trades(bars, seed=5)
    assert trades.schema == TRADES_SCHEMA
    assert trades.height == bars.frame["trades"].sum()
    assert trades["ts"].is_sorted()
    rebuilt = trades_to_bars(trades, 1).frame
    assert rebuilt.drop("volume").equals(bars.frame.drop("volume"))
    assert np.allclose(rebuilt["volume"].to_numpy(), bars.frame["volume"].to_numpy(), atol=1e-9)


def test_trades_have_fractional_times_inside_their_bar() -> None:
    bars = generate_bars(200, seed=6)
    trades = generate_trades(bars, seed=6)
    micros = trades["ts"].dt.epoch("us")
    assert (micros % 1_000_000 != 0).any()
    bar_of_trade = trades["ts"].dt.truncate("1m")
    assert set(bar_of_trade.to_list()) == set(bars.frame["ts"].to_list())


def test_trades_round_trip_exactly_through_a_kraken_csv(tmp_path: Path) -> None:
    trades = generate_trades(generate_bars(300, seed=2), seed=2)
    path = write_trades_csv(trades, tmp_path / "XBTUSD.csv")
    assert len(path.read_text().splitlines()[0].split(",")) == 3
    assert load_trades(path).equals(trades)


def test_trades_are_not_generated_for_zero_volume_bars() -> None:
    bars = generate_bars(3, seed=1)
    frame = bars.frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(0.0).otherwise(pl.col("volume")).alias("volume")
    )
    trades = generate_trades(Bars(frame, 1), seed=1)
    assert trades.height == frame["trades"][0] + frame["trades"][2]


def test_trades_need_enough_trades_per_bar_to_place_ohlc() -> None:
    bars = generate_bars(3, seed=1)
    thin = Bars(bars.frame.with_columns(pl.lit(2, pl.Int64).alias("trades")), 1)
    with pytest.raises(ValueError, match="at least 4 trades"):
        generate_trades(thin, seed=1)


@pytest.mark.parametrize(("n_bars", "interval"), [(0, 1), (10, 0)])
def test_nonsense_sizes_are_rejected(n_bars: int, interval: int) -> None:
    with pytest.raises(ValueError):
        generate_bars(n_bars, seed=1, interval=interval)
