import math
import random

import polars as pl
import pytest
from backtesting.test import SMA as reference_sma
from hypothesis import example, given
from hypothesis import strategies as st

from kraken_tui.indicators import EMA, SMA, Indicator


def random_walk(n: int, seed: int = 7, start: float = 30_000.0) -> list[float]:
    rng = random.Random(seed)
    prices = [start]
    for _ in range(n - 1):
        prices.append(prices[-1] * math.exp(rng.gauss(0.0, 0.002)))
    return prices


prices_strategy = st.lists(
    st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=200,
)


@pytest.mark.parametrize("period", [1, 2, 10, 30])
def test_sma_matches_polars_rolling_mean(period: int) -> None:
    prices = random_walk(3_000)
    expected = pl.Series(prices).rolling_mean(window_size=period).to_list()
    sma = SMA(period)
    got = [sma.update(p) for p in prices]
    assert got[: period - 1] == [None] * (period - 1)
    for ours, reference in zip(got[period - 1 :], expected[period - 1 :], strict=True):
        assert ours == pytest.approx(reference, rel=1e-12)


def test_sma_matches_backtesting_package_sma() -> None:
    prices = random_walk(1_000, seed=3)
    expected = reference_sma(prices, 20)
    sma = SMA(20)
    got = [sma.update(p) for p in prices]
    for ours, reference in zip(got[19:], expected[19:], strict=True):
        assert ours == pytest.approx(reference, rel=1e-12)


def test_sma_does_not_drift_over_a_year_of_minute_bars() -> None:
    prices = random_walk(525_600, seed=11, start=60_000.0)
    sma = SMA(30)
    for p in prices:
        sma.update(p)
    exact = math.fsum(prices[-30:]) / 30
    assert sma.value == pytest.approx(exact, rel=1e-14)


def test_sma_ready_and_value_follow_warmup() -> None:
    sma = SMA(3)
    assert not sma.ready and sma.value is None
    assert sma.update(1.0) is None
    assert sma.update(2.0) is None
    assert not sma.ready
    assert sma.update(3.0) == pytest.approx(2.0)
    assert sma.ready and sma.value == pytest.approx(2.0)
    assert sma.update(10.0) == pytest.approx(5.0)


def test_sma_reset_behaves_like_a_fresh_instance() -> None:
    prices = random_walk(50)
    used = SMA(5)
    for p in random_walk(17, seed=99):
        used.update(p)
    used.reset()
    assert used.value is None and not used.ready
    fresh = SMA(5)
    assert [used.update(p) for p in prices] == [fresh.update(p) for p in prices]


@pytest.mark.parametrize("period", [1, 12, 26])
def test_ema_matches_polars_ewm_mean_without_adjustment(period: int) -> None:
    prices = random_walk(2_000, seed=5)
    expected = pl.Series(prices).ewm_mean(span=period, adjust=False, min_samples=period).to_list()
    ema = EMA(period)
    got = [ema.update(p) for p in prices]
    assert got[: period - 1] == [None] * (period - 1)
    for ours, reference in zip(got[period - 1 :], expected[period - 1 :], strict=True):
        assert ours == pytest.approx(reference, rel=1e-12)


def test_ema_reset_behaves_like_a_fresh_instance() -> None:
    ema = EMA(4)
    for p in (5.0, 7.0, 9.0, 11.0, 13.0):
        ema.update(p)
    ema.reset()
    assert ema.value is None and not ema.ready
    assert ema.update(100.0) is None
    assert [ema.update(100.0) for _ in range(3)][-1] == pytest.approx(100.0)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_periods_that_are_not_positive_integers_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="period"):
        SMA(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="period"):
        EMA(bad)  # type: ignore[arg-type]


def test_moving_averages_satisfy_the_indicator_protocol() -> None:
    assert isinstance(SMA(3), Indicator)
    assert isinstance(EMA(3), Indicator)


@given(prices=prices_strategy, period=st.integers(min_value=1, max_value=40))
def test_sma_equals_mean_of_last_window_on_random_series(prices: list[float], period: int) -> None:
    sma = SMA(period)
    for i, p in enumerate(prices):
        got = sma.update(p)
        if i + 1 < period:
            assert got is None
        else:
            window = prices[i + 1 - period : i + 1]
            assert got == pytest.approx(math.fsum(window) / period, rel=1e-9, abs=1e-9)


@given(prices=prices_strategy, period=st.integers(min_value=1, max_value=40))
@example(prices=[262146.0, 1.1], period=1)  # a huge jump: the difference form drifted out
def test_ema_stays_within_range_of_inputs_on_random_series(
    prices: list[float], period: int
) -> None:
    ema = EMA(period)
    for p in prices:
        ema.update(p)
    if len(prices) >= period:
        assert ema.value is not None
        assert min(prices) * (1 - 1e-12) <= ema.value <= max(prices) * (1 + 1e-12)
    else:
        assert ema.value is None
