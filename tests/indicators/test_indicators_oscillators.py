import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.indicators import MACD, RSI, Indicator, MACDValue


def random_walk(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return (30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))).tolist()


def wilder_rsi_reference(prices: list[float], period: int) -> list[float | None]:
    """Wilder's RSI written the textbook way: seed averages with a plain mean of the first
    `period` changes, then smooth them with polars' ewm_mean(alpha=1/period, adjust=False)."""
    changes = pl.Series(prices).diff().drop_nulls()
    gains = changes.clip(lower_bound=0.0)
    losses = (-changes).clip(lower_bound=0.0)

    def wilder(series: pl.Series) -> pl.Series:
        seed = pl.Series([series.head(period).mean()])
        return seed.append(series.slice(period)).ewm_mean(alpha=1.0 / period, adjust=False)

    avg_gain, avg_loss = wilder(gains), wilder(losses)
    rsi = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    return [None] * period + rsi.to_list()


@pytest.mark.parametrize("period", [2, 14, 30])
def test_rsi_matches_wilder_reference(period: int) -> None:
    prices = random_walk(3_000, seed=period)
    expected = wilder_rsi_reference(prices, period)
    rsi = RSI(period)
    got = [rsi.update(p) for p in prices]
    assert got[:period] == [None] * period
    for ours, reference in zip(got[period:], expected[period:], strict=True):
        assert ours == pytest.approx(reference, rel=1e-9)


def test_rsi_first_value_appears_on_price_period_plus_one() -> None:
    rsi = RSI(3)
    assert [rsi.update(p) for p in (1.0, 2.0, 3.0)] == [None, None, None]
    assert not rsi.ready
    assert rsi.update(4.0) == pytest.approx(100.0)
    assert rsi.ready


def test_rsi_reads_50_in_a_flat_market_and_100_without_losses() -> None:
    flat = RSI(5)
    for _ in range(10):
        flat.update(42.0)
    assert flat.value == pytest.approx(50.0)
    rising = RSI(5)
    for p in range(10):
        rising.update(float(p))
    assert rising.value == pytest.approx(100.0)


def test_rsi_reset_behaves_like_a_fresh_instance() -> None:
    prices = random_walk(100, seed=1)
    used = RSI(14)
    for p in random_walk(40, seed=2):
        used.update(p)
    used.reset()
    assert used.value is None
    fresh = RSI(14)
    assert [used.update(p) for p in prices] == [fresh.update(p) for p in prices]


@given(
    prices=st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=0, max_size=150),
    period=st.integers(min_value=1, max_value=30),
)
def test_rsi_stays_between_0_and_100_on_random_series(prices: list[float], period: int) -> None:
    rsi = RSI(period)
    for i, p in enumerate(prices):
        value = rsi.update(p)
        assert (value is None) == (i < period)
        if value is not None:
            assert 0.0 <= value <= 100.0


def test_macd_matches_polars_ewm_means() -> None:
    prices = random_walk(3_000, seed=8)
    close = pl.Series(prices)
    line = close.ewm_mean(span=12, adjust=False) - close.ewm_mean(span=26, adjust=False)
    signal = line.ewm_mean(span=9, adjust=False)
    macd = MACD(12, 26, 9)
    got = [macd.update(p) for p in prices]
    warmup = 26 + 9 - 1
    assert got[: warmup - 1] == [None] * (warmup - 1)
    for i in range(warmup - 1, len(prices)):
        value = got[i]
        assert isinstance(value, MACDValue)
        assert value.macd == pytest.approx(line[i], rel=1e-9, abs=1e-9)
        assert value.signal == pytest.approx(signal[i], rel=1e-9, abs=1e-9)
        assert value.histogram == pytest.approx(line[i] - signal[i], rel=1e-9, abs=1e-9)


def test_macd_warmup_and_reset() -> None:
    macd = MACD(3, 5, 2)
    values = [macd.update(float(p)) for p in range(1, 8)]
    assert values[:5] == [None] * 5
    assert values[5] is not None and macd.ready
    macd.reset()
    assert macd.value is None and not macd.ready
    assert [macd.update(float(p)) for p in range(1, 8)] == values


def test_macd_rejects_fast_period_not_shorter_than_slow() -> None:
    with pytest.raises(ValueError, match="shorter"):
        MACD(26, 12, 9)


def test_oscillators_satisfy_the_indicator_protocol() -> None:
    assert isinstance(RSI(), Indicator)
    assert isinstance(MACD(), Indicator)


@given(prices=st.lists(st.floats(min_value=1.0, max_value=1e5), min_size=40, max_size=120))
def test_macd_histogram_is_line_minus_signal_on_random_series(prices: list[float]) -> None:
    macd = MACD()
    for p in prices:
        macd.update(p)
    value = macd.value
    assert value is not None
    assert value.histogram == value.macd - value.signal
    assert abs(value.macd) <= max(prices) - min(prices) + 1e-6
