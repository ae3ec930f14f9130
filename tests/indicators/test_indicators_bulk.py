import math
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kraken_tui.indicators import (
    ATR,
    EMA,
    MACD,
    RSI,
    SMA,
    BollingerBands,
    RollingVWAP,
    SessionVWAP,
    bulk,
)


def market(n: int, seed: int) -> pl.DataFrame:
    """Random bars with flat stretches and zero-volume rows, the cases where edge rules
    (RSI's 50, VWAP's undefined windows) have to agree too."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.002, n) * (rng.random(n) > 0.2)
    close = np.round(30_000.0 * np.exp(np.cumsum(steps)), 1)
    spread = np.round(np.abs(rng.normal(0.0, 0.001, (2, n))) * close, 1)
    return pl.DataFrame(
        {
            "ts": [datetime.fromtimestamp(1_704_000_000 + 900 * i, UTC) for i in range(n)],
            "high": close + spread[0],
            "low": close - spread[1],
            "close": close,
            "volume": rng.exponential(1.0, n) * (rng.random(n) > 0.3),
        }
    )


def assert_same(incremental: Sequence[float | None], bulk_values: Sequence[float | None]) -> None:
    assert len(incremental) == len(bulk_values)
    for i, (ours, theirs) in enumerate(zip(incremental, bulk_values, strict=True)):
        if ours is None:
            assert theirs is None, f"row {i}: incremental None, bulk {theirs}"
        else:
            assert theirs == pytest.approx(ours, rel=1e-9, abs=1e-9), f"row {i}"


def feed(update: Callable[..., object], rows: list[tuple[float, ...]]) -> list[object]:
    return [update(*row) for row in rows]


FRAME = market(2_000, seed=21)
CLOSE = FRAME["close"].to_list()


@pytest.mark.parametrize("period", [1, 10, 30])
def test_bulk_sma_and_ema_equal_incremental(period: int) -> None:
    sma, ema = SMA(period), EMA(period)
    frame = FRAME.select(
        bulk.sma(pl.col("close"), period).alias("sma"),
        bulk.ema(pl.col("close"), period).alias("ema"),
    )
    assert_same([sma.update(p) for p in CLOSE], frame["sma"].to_list())
    assert_same([ema.update(p) for p in CLOSE], frame["ema"].to_list())


@pytest.mark.parametrize("period", [2, 14])
def test_bulk_rsi_equals_incremental_including_flat_stretches(period: int) -> None:
    rsi = RSI(period)
    expected = [rsi.update(p) for p in CLOSE]
    assert_same(expected, FRAME.select(bulk.rsi(pl.col("close"), period))["rsi"].to_list())


def test_bulk_macd_equals_incremental() -> None:
    macd = MACD(12, 26, 9)
    values = [macd.update(p) for p in CLOSE]
    frame = FRAME.select(bulk.macd(pl.col("close"), 12, 26, 9))
    for field, column in (
        ("macd", "macd"),
        ("signal", "macd_signal"),
        ("histogram", "macd_histogram"),
    ):
        assert_same(
            [None if v is None else getattr(v, field) for v in values], frame[column].to_list()
        )


def test_bulk_bollinger_equals_incremental() -> None:
    bands = BollingerBands(20, 2.0)
    values = [bands.update(p) for p in CLOSE]
    frame = FRAME.select(bulk.bollinger_bands(pl.col("close"), 20, 2.0))
    for field in ("mid", "upper", "lower"):
        assert_same(
            [None if v is None else getattr(v, field) for v in values],
            frame[f"bb_{field}"].to_list(),
        )


@pytest.mark.parametrize("period", [1, 14])
def test_bulk_atr_equals_incremental(period: int) -> None:
    atr = ATR(period)
    expected = feed(atr.update, FRAME.select("high", "low", "close").rows())
    got = FRAME.select(bulk.atr(pl.col("high"), pl.col("low"), pl.col("close"), period))
    assert_same(expected, got.to_series().to_list())


def test_bulk_session_vwap_equals_incremental() -> None:
    vwap = SessionVWAP(session_seconds=6 * 3_600, anchor_seconds=3_600)
    expected = [
        vwap.update(price, volume, ts.timestamp())
        for ts, price, volume in FRAME.select("ts", "close", "volume").rows()
    ]
    got = FRAME.select(
        bulk.session_vwap(pl.col("close"), pl.col("volume"), pl.col("ts"), 6 * 3_600, 3_600)
    )
    assert_same(expected, got.to_series().to_list())


@pytest.mark.parametrize("period", [1, 3, 20])
def test_bulk_rolling_vwap_equals_incremental_with_empty_windows(period: int) -> None:
    vwap = RollingVWAP(period)
    expected = feed(vwap.update, FRAME.select("close", "volume").rows())
    got = FRAME.select(bulk.rolling_vwap(pl.col("close"), pl.col("volume"), period))
    assert_same(expected, got.to_series().to_list())


def test_bulk_rejects_the_same_bad_parameters_as_the_classes() -> None:
    with pytest.raises(ValueError, match="period"):
        bulk.sma(pl.col("close"), 0)
    with pytest.raises(ValueError, match="shorter"):
        bulk.macd(pl.col("close"), 26, 12)
    with pytest.raises(ValueError, match="num_std"):
        bulk.bollinger_bands(pl.col("close"), 20, -1.0)


@settings(max_examples=40, deadline=None)
@example(seed=87, n=87, period=4)  # a flat window: polars' rolling std is ~1e-5, not 0
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    n=st.integers(min_value=1, max_value=120),
    period=st.integers(min_value=1, max_value=25),
)
def test_bulk_and_incremental_agree_on_random_series(seed: int, n: int, period: int) -> None:
    frame = market(n, seed)
    close = frame["close"].to_list()
    rsi, atr, bands = RSI(period), ATR(period), BollingerBands(period)
    got = frame.select(
        bulk.rsi(pl.col("close"), period).alias("rsi"),
        bulk.atr(pl.col("high"), pl.col("low"), pl.col("close"), period).alias("atr"),
        *bulk.bollinger_bands(pl.col("close"), period),
    )
    assert_same([rsi.update(p) for p in close], got["rsi"].to_list())
    assert_same(feed(atr.update, frame.select("high", "low", "close").rows()), got["atr"].to_list())
    upper = [None if v is None else v.upper for v in (bands.update(p) for p in close)]
    # polars' rolling variance cancels catastrophically on flat windows (a variance of ~eps *
    # price^2 where the true one is 0), so its band can sit sqrt(eps) * price * k off ours
    noise = 2.0 * math.sqrt(sys.float_info.epsilon) * max(close)
    bulk_upper = got["bb_upper"].to_list()
    assert len(upper) == len(bulk_upper)
    for i, (ours, theirs) in enumerate(zip(upper, bulk_upper, strict=True)):
        assert (ours is None) == (theirs is None), f"row {i}"
        if ours is not None:
            assert theirs == pytest.approx(ours, rel=1e-9, abs=noise), f"row {i}"
