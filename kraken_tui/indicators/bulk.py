"""The incremental indicators restated as polars expressions, for bulk work over whole frames
(ML training features, reports).

Each expression yields, row by row, what the matching incremental class returns when fed the
same series one value at a time — null where the class returns None while warming up — so a
feature computed in bulk for training equals the one computed live. The tests check each pair
against each other. Expressions assume rows in time order, one series per frame (use `.over`
for several symbols); each is named after its indicator (`rsi`, `macd_signal`, `bb_upper`, …).
"""

from __future__ import annotations

import polars as pl

from kraken_tui.indicators.base import check_period

_MICROS = 1_000_000


def sma(value: pl.Expr, period: int) -> pl.Expr:
    """Same as `SMA(period)`."""
    return value.rolling_mean(window_size=check_period("period", period)).alias("sma")


def ema(value: pl.Expr, period: int) -> pl.Expr:
    """Same as `EMA(period)`: the adjust=False recursion seeded with the first value."""
    check_period("period", period)
    return value.ewm_mean(span=period, adjust=False, min_samples=period).alias("ema")


def rsi(close: pl.Expr, period: int = 14) -> pl.Expr:
    """Same as `RSI(period)`, with Wilder's smoothing seeded by a plain mean."""
    check_period("period", period)
    change = close.diff()
    avg_gain = _wilder(change.clip(lower_bound=0.0), period, first_row=period)
    avg_loss = _wilder((-change).clip(lower_bound=0.0), period, first_row=period)
    return (
        pl.when(avg_loss == 0.0)
        .then(pl.when(avg_gain == 0.0).then(50.0).otherwise(100.0))
        .otherwise(100.0 - 100.0 / (1.0 + avg_gain / avg_loss))
        .alias("rsi")
    )


def macd(
    close: pl.Expr, fast_period: int = 12, slow_period: int = 26, signal_period: int = 9
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Same as `MACD(...)`: (line, signal, histogram), named macd, macd_signal and
    macd_histogram."""
    for name, period in (("fast", fast_period), ("slow", slow_period), ("signal", signal_period)):
        check_period(f"{name}_period", period)
    if fast_period >= slow_period:
        raise ValueError(
            f"fast_period ({fast_period}) must be shorter than slow_period ({slow_period})"
        )
    line = close.ewm_mean(span=fast_period, adjust=False) - close.ewm_mean(
        span=slow_period, adjust=False
    )
    signal = line.ewm_mean(span=signal_period, adjust=False)
    warm = pl.int_range(pl.len()) >= slow_period + signal_period - 2
    return (
        pl.when(warm).then(line).alias("macd"),
        pl.when(warm).then(signal).alias("macd_signal"),
        pl.when(warm).then(line - signal).alias("macd_histogram"),
    )


def bollinger_bands(
    close: pl.Expr, period: int = 20, num_std: float = 2.0
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Same as `BollingerBands(...)` (population σ): (mid, upper, lower), named bb_mid,
    bb_upper and bb_lower."""
    check_period("period", period)
    if not num_std > 0.0:
        raise ValueError(f"num_std must be positive, got {num_std!r}")
    mid = close.rolling_mean(window_size=period)
    width = num_std * close.rolling_std(window_size=period, ddof=0)
    return (mid.alias("bb_mid"), (mid + width).alias("bb_upper"), (mid - width).alias("bb_lower"))


def atr(high: pl.Expr, low: pl.Expr, close: pl.Expr, period: int = 14) -> pl.Expr:
    """Same as `ATR(period)`: Wilder's average of true ranges, the first being high - low."""
    check_period("period", period)
    previous = close.shift(1)
    true_range = pl.max_horizontal(high - low, (high - previous).abs(), (low - previous).abs())
    return _wilder(true_range, period, first_row=period - 1).alias("atr")


def session_vwap(
    price: pl.Expr,
    volume: pl.Expr,
    ts: pl.Expr,
    session_seconds: int = 86_400,
    anchor_seconds: int = 0,
) -> pl.Expr:
    """Same as `SessionVWAP(...)`, with `ts` a Datetime column (the class takes the same
    instant as Unix seconds)."""
    check_period("session_seconds", session_seconds)
    session = (ts.dt.epoch("us") - anchor_seconds * _MICROS) // (session_seconds * _MICROS)
    traded = volume.cum_sum().over(session)
    vwap = (price * volume).cum_sum().over(session) / traded
    return pl.when(traded > 0.0).then(vwap).alias("session_vwap")


def rolling_vwap(price: pl.Expr, volume: pl.Expr, period: int) -> pl.Expr:
    """Same as `RollingVWAP(period)`: null where the window holds no volume at all."""
    check_period("period", period)
    any_volume = (volume > 0.0).cast(pl.Int64).rolling_sum(window_size=period) > 0
    vwap = (price * volume).rolling_sum(window_size=period) / volume.rolling_sum(window_size=period)
    return pl.when(any_volume).then(vwap).alias("rolling_vwap")


def _wilder(value: pl.Expr, period: int, first_row: int) -> pl.Expr:
    """Wilder's smoothing avg = avg + (x - avg) / period, seeded at `first_row` with the mean of
    the `period` values ending there, null before it."""
    row = pl.int_range(pl.len())
    seeded = (
        pl.when(row < first_row)
        .then(None)
        .when(row == first_row)
        .then(value.rolling_mean(window_size=period))
        .otherwise(value)
    )
    return seeded.ewm_mean(alpha=1.0 / period, adjust=False)
