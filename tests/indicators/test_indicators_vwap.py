import numpy as np
import polars as pl
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kraken_tui.indicators import Indicator, RollingVWAP, SessionVWAP

DAY = 86_400


def random_prints(n: int, seed: int, step_seconds: int = 600) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "timestamp": 1_700_000_000 + step_seconds * np.arange(n),
            "price": 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n))),
            "volume": rng.exponential(2.0, n),
        }
    )


def test_session_vwap_matches_polars_cumulative_sums_per_utc_day() -> None:
    prints = random_prints(2_000, seed=1)
    expected = (
        prints.with_columns(day=pl.col("timestamp") // DAY)
        .select(
            (
                (pl.col("price") * pl.col("volume")).cum_sum().over("day")
                / pl.col("volume").cum_sum().over("day")
            ).alias("vwap")
        )["vwap"]
        .to_list()
    )
    vwap = SessionVWAP()
    got = [vwap.update(p, v, ts) for ts, p, v in prints.iter_rows()]
    assert got == pytest.approx(expected, rel=1e-12)


def test_session_vwap_resets_at_session_boundary() -> None:
    vwap = SessionVWAP(session_seconds=3_600)
    vwap.update(100.0, 1.0, 3_600 * 5 + 10)
    assert vwap.update(200.0, 3.0, 3_600 * 5 + 20) == pytest.approx(175.0)
    assert vwap.update(50.0, 2.0, 3_600 * 6) == pytest.approx(50.0)


def test_session_vwap_honours_anchor_offset() -> None:
    vwap = SessionVWAP(session_seconds=DAY, anchor_seconds=14 * 3_600)
    vwap.update(100.0, 1.0, DAY * 10 + 13 * 3_600)
    assert vwap.update(300.0, 1.0, DAY * 10 + 13 * 3_600 + 1_800) == pytest.approx(200.0)
    assert vwap.update(400.0, 1.0, DAY * 10 + 14 * 3_600) == pytest.approx(400.0)


def test_session_vwap_is_undefined_until_volume_trades() -> None:
    vwap = SessionVWAP()
    assert vwap.update(100.0, 0.0, 0) is None
    assert not vwap.ready
    assert vwap.update(101.0, 2.0, 60) == pytest.approx(101.0)
    assert vwap.ready
    vwap.reset()
    assert vwap.value is None and not vwap.ready


@pytest.mark.parametrize("period", [1, 20, 60])
def test_rolling_vwap_matches_polars_rolling_sums(period: int) -> None:
    prints = random_prints(3_000, seed=period)
    expected = prints.select(
        (
            (pl.col("price") * pl.col("volume")).rolling_sum(period)
            / pl.col("volume").rolling_sum(period)
        ).alias("vwap")
    )["vwap"].to_list()
    vwap = RollingVWAP(period)
    got = [vwap.update(p, v) for _, p, v in prints.iter_rows()]
    assert got[: period - 1] == [None] * (period - 1)
    for ours, reference in zip(got[period - 1 :], expected[period - 1 :], strict=True):
        assert ours == pytest.approx(reference, rel=1e-9)


def test_rolling_vwap_is_undefined_over_a_window_without_volume() -> None:
    vwap = RollingVWAP(2)
    vwap.update(100.0, 1.0)
    assert vwap.update(102.0, 1.0) == pytest.approx(101.0)
    vwap.update(103.0, 0.0)
    assert vwap.update(104.0, 0.0) is None
    assert not vwap.ready


def test_vwaps_satisfy_the_indicator_protocol() -> None:
    assert isinstance(SessionVWAP(), Indicator)
    assert isinstance(RollingVWAP(3), Indicator)


@given(
    prints=st.lists(
        st.tuples(
            st.floats(min_value=0.01, max_value=1e6),
            # zero, or at least Kraken's smallest lot: subnormal volumes are not market data
            st.one_of(st.just(0.0), st.floats(min_value=1e-8, max_value=1e3)),
        ),
        min_size=1,
        max_size=100,
    ),
    period=st.integers(min_value=1, max_value=20),
)
@example(prints=[(2.0, 4.0), (1.0, 1e-08), (1.0, 0.0)], period=2)  # the big volume leaves
@example(prints=[(699051.0, 3.0), (0.01, 3.0), (1.0, 0.0)], period=2)  # the big value leaves
def test_rolling_vwap_lies_within_window_price_range(
    prints: list[tuple[float, float]], period: int
) -> None:
    vwap = RollingVWAP(period)
    for i, (price, volume) in enumerate(prints):
        value = vwap.update(price, volume)
        window = prints[max(0, i + 1 - period) : i + 1]
        if value is None:
            assert i + 1 < period or all(v == 0.0 for _, v in window)
            continue
        prices = [p for p, v in window if v > 0.0]
        assert min(prices) * (1 - 1e-9) <= value <= max(prices) * (1 + 1e-9)
