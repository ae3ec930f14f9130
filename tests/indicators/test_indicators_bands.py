import math
import statistics

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.indicators import ATR, BollingerBands, BollingerValue, Indicator


def random_bars(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0.0, 0.001, (2, n))) * close
    return pl.DataFrame(
        {
            "high": np.maximum(open_, close) + spread[0],
            "low": np.minimum(open_, close) - spread[1],
            "close": close,
        }
    )


@pytest.mark.parametrize(("period", "num_std"), [(20, 2.0), (5, 1.5), (1, 2.0)])
def test_bollinger_matches_polars_rolling_population_std(period: int, num_std: float) -> None:
    close = random_bars(3_000, seed=period)["close"]
    mid = close.rolling_mean(window_size=period)
    std = close.rolling_std(window_size=period, ddof=0)
    bands = BollingerBands(period, num_std)
    got = [bands.update(p) for p in close]
    assert got[: period - 1] == [None] * (period - 1)
    for i in range(period - 1, len(close)):
        value = got[i]
        assert isinstance(value, BollingerValue)
        assert value.mid == pytest.approx(mid[i], rel=1e-12)
        assert value.upper == pytest.approx(mid[i] + num_std * std[i], rel=1e-12)
        assert value.lower == pytest.approx(mid[i] - num_std * std[i], rel=1e-12)


def test_bollinger_width_stays_accurate_at_high_price_with_tiny_moves() -> None:
    rng = np.random.default_rng(4)
    prices = (100_000.0 + rng.normal(0.0, 0.01, 50_000)).tolist()
    bands = BollingerBands(20, 2.0)
    for p in prices:
        bands.update(p)
    assert bands.value is not None
    exact = 2.0 * statistics.pstdev(prices[-20:])
    assert bands.value.upper - bands.value.mid == pytest.approx(exact, rel=1e-6)


def test_bollinger_flat_window_has_zero_width_and_undefined_percent_b() -> None:
    bands = BollingerBands(3)
    for _ in range(3):
        bands.update(7.0)
    assert bands.value == BollingerValue(7.0, 7.0, 7.0)
    assert bands.value.percent_b(7.0) is None


def test_bollinger_percent_b_is_zero_at_lower_and_one_at_upper() -> None:
    value = BollingerValue(mid=10.0, upper=12.0, lower=8.0)
    assert value.percent_b(8.0) == 0.0
    assert value.percent_b(12.0) == 1.0
    assert value.percent_b(11.0) == pytest.approx(0.75)


def test_bollinger_reset_behaves_like_a_fresh_instance() -> None:
    prices = random_bars(60, seed=1)["close"].to_list()
    used = BollingerBands(10)
    for p in prices[:25]:
        used.update(p)
    used.reset()
    assert used.value is None and not used.ready
    fresh = BollingerBands(10)
    assert [used.update(p) for p in prices] == [fresh.update(p) for p in prices]


def test_bollinger_rejects_non_positive_width() -> None:
    with pytest.raises(ValueError, match="num_std"):
        BollingerBands(20, 0.0)


@given(
    prices=st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=120),
    period=st.integers(min_value=1, max_value=30),
)
def test_bollinger_matches_statistics_module_on_random_series(
    prices: list[float], period: int
) -> None:
    bands = BollingerBands(period, 2.0)
    for i, p in enumerate(prices):
        value = bands.update(p)
        if i + 1 < period:
            assert value is None
            continue
        assert value is not None
        window = prices[i + 1 - period : i + 1]
        scale = max(window)
        assert value.mid == pytest.approx(statistics.fmean(window), rel=1e-9)
        half_width = value.upper - value.mid
        assert half_width == pytest.approx(2.0 * statistics.pstdev(window), abs=1e-6 * scale)
        assert value.lower <= value.mid <= value.upper


def wilder_atr_reference(bars: pl.DataFrame, period: int) -> list[float | None]:
    previous_close = pl.col("close").shift(1)
    true_range = bars.select(
        pl.max_horizontal(
            pl.col("high") - pl.col("low"),
            (pl.col("high") - previous_close).abs(),
            (pl.col("low") - previous_close).abs(),
        ).alias("tr")
    )["tr"]
    atr: list[float | None] = [None] * (period - 1)
    current = math.fsum(true_range.head(period)) / period
    atr.append(current)
    for tr in true_range.slice(period):
        current = (current * (period - 1) + tr) / period
        atr.append(current)
    return atr


@pytest.mark.parametrize("period", [1, 14, 30])
def test_atr_matches_wilder_reference(period: int) -> None:
    bars = random_bars(3_000, seed=period)
    expected = wilder_atr_reference(bars, period)
    atr = ATR(period)
    got = [atr.update(h, lo, c) for h, lo, c in bars.iter_rows()]
    assert got[: period - 1] == [None] * (period - 1)
    for ours, reference in zip(got[period - 1 :], expected[period - 1 :], strict=True):
        assert ours == pytest.approx(reference, rel=1e-9)


def test_atr_counts_gaps_from_previous_close_in_true_range() -> None:
    atr = ATR(1)
    atr.update(high=101.0, low=99.0, close=100.0)
    assert atr.update(high=111.0, low=110.0, close=110.5) == pytest.approx(11.0)
    assert atr.update(high=91.0, low=90.0, close=90.5) == pytest.approx(20.5)


def test_atr_reset_behaves_like_a_fresh_instance() -> None:
    rows = list(random_bars(40, seed=2).iter_rows())
    used = ATR(5)
    for row in rows[:12]:
        used.update(*row)
    used.reset()
    assert used.value is None and not used.ready
    fresh = ATR(5)
    assert [used.update(*row) for row in rows] == [fresh.update(*row) for row in rows]


def test_bands_satisfy_the_indicator_protocol() -> None:
    assert isinstance(BollingerBands(), Indicator)
    assert isinstance(ATR(), Indicator)


@given(
    bars=st.lists(
        st.tuples(
            st.floats(min_value=1.0, max_value=1e5),
            st.floats(min_value=0.0, max_value=0.1),
            st.floats(min_value=0.0, max_value=1.0),
        ),
        min_size=1,
        max_size=80,
    ),
    period=st.integers(min_value=1, max_value=20),
)
def test_atr_is_non_negative_and_bounded_by_largest_range(
    bars: list[tuple[float, float, float]], period: int
) -> None:
    atr = ATR(period)
    rows = []
    for low, width, position in bars:
        high = low * (1 + width)
        rows.append((high, low, low + position * (high - low)))
    for high, low, close in rows:
        atr.update(high, low, close)
    if len(rows) < period:
        assert atr.value is None
        return
    assert atr.value is not None
    largest = max(r[0] for r in rows) - min(r[1] for r in rows)
    assert 0.0 <= atr.value <= largest * (1 + 1e-9) + 1e-9
