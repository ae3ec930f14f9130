"""Seeded synthetic market data that looks like Kraken's, for tests, demos and benchmarks.

Prices follow a geometric random walk whose volatility clusters (a stochastic-volatility model:
log-volatility is a persistent AR(1) process, so calm and turbulent stretches alternate as in
real BTC data), with an intraday pattern peaking around the US open, rare jumps that also shock
volatility upwards, and volume that rises with the size of the move. Bars are internally
consistent (low ≤ open, close ≤ high; each open is the previous close unless `open_jitter`
moves it) and rounded to the instrument's decimals, so they survive a round trip through
Kraken-format CSV unchanged.

Everything is vectorized: the AR(1) recursion is polars' `ewm_mean(adjust=False)` (which is
exactly y[t] = (1 - α)·y[t-1] + α·x[t]), the rest is numpy, so a year of minute bars takes well
under a second. numpy is a dependency here (it is not one of polars').
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from kraken_tui.backtest.clock import MINUTES_PER_YEAR
from kraken_tui.backtest.data import BAR_SCHEMA, TRADES_SCHEMA, Bars

MIN_TRADES_PER_BAR = 4  # enough to place open, high, low and close on distinct trades
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class MarketModel:
    """Parameters of the synthetic market; the defaults resemble XBT/USD on minute bars."""

    start_price: float = 40_000.0
    annual_volatility: float = 0.6
    """Long-run average annualized volatility of log returns."""
    annual_drift: float = 0.0
    volatility_half_life_minutes: float = 720.0
    """How long a volatility regime persists: the AR(1) half-life of log-volatility."""
    volatility_of_volatility: float = 0.5
    """Stationary standard deviation of log-volatility around its mean."""
    jumps_per_year: float = 50.0
    jump_stdev: float = 0.01
    """Standard deviation of a jump's log return."""
    jump_volatility_shock: float = 3.0
    """How hard a jump kicks log-volatility up, in innovation standard deviations."""
    mean_volume_per_minute: float = 2.0
    trades_per_unit_volume: float = 8.0
    price_decimals: int = 1
    volume_decimals: int = 8
    open_jitter: float = 0.0
    """Standard deviation (a fraction of the price) of each open's distance from the previous
    close: in real minute bars the first trade of a minute is not the last one of the minute
    before. 0 opens every bar at the previous close (and draws nothing extra, so the same
    seed gives the same bars as before the option existed)."""


def generate_bars(
    n_bars: int,
    *,
    seed: int,
    interval: int = 1,
    start: datetime = DEFAULT_START,
    model: MarketModel | None = None,
) -> Bars:
    """`n_bars` consecutive `interval`-minute bars from `start` (floored to the interval);
    the same seed always yields the same bars."""
    if n_bars < 1:
        raise ValueError(f"n_bars must be at least 1, got {n_bars}")
    if interval < 1:
        raise ValueError(f"interval must be a positive number of minutes, got {interval}")
    model = model or MarketModel()
    rng = np.random.default_rng(seed)
    step = interval * 60
    first = int(start.timestamp()) // step * step
    epoch_seconds = first + step * np.arange(n_bars, dtype=np.int64)

    season = _intraday_activity(epoch_seconds)
    base_sigma = model.annual_volatility * math.sqrt(interval / MINUTES_PER_YEAR)
    jumps = rng.random(n_bars) < model.jumps_per_year * interval / MINUTES_PER_YEAR
    log_vol = _log_volatility(rng, jumps, interval, model)
    sigma = base_sigma * np.exp(log_vol - model.volatility_of_volatility**2) * np.sqrt(season)

    shocks = rng.standard_normal(n_bars)
    drift = (model.annual_drift * interval / MINUTES_PER_YEAR) - 0.5 * sigma**2
    returns = drift + sigma * shocks + jumps * rng.normal(0.0, model.jump_stdev, n_bars)
    decimals = model.price_decimals
    close = np.round(model.start_price * np.exp(np.cumsum(returns)), decimals)
    open_ = np.concatenate(([round(model.start_price, decimals)], close[:-1]))
    if model.open_jitter > 0:
        jitter = np.exp(rng.normal(0.0, model.open_jitter, n_bars))
        jitter[0] = 1.0
        open_ = np.round(open_ * jitter, decimals)
    # Intrabar excursions scale with the bar's volatility, like the range of a Brownian bridge.
    reach = sigma * np.abs(rng.standard_normal((2, n_bars))) * 0.6
    high = np.round(np.maximum(open_, close) * np.exp(reach[0]), decimals)
    low = np.round(np.minimum(open_, close) * np.exp(-reach[1]), decimals)

    activity = season * (0.4 + 0.6 * np.abs(shocks)) * (sigma / base_sigma)
    noise = rng.lognormal(-0.18, 0.6, n_bars)
    raw_volume = model.mean_volume_per_minute * interval * activity * noise
    tick = 10.0**-model.volume_decimals
    volume = np.maximum(np.round(raw_volume, model.volume_decimals), tick)
    trades = MIN_TRADES_PER_BAR + rng.poisson(volume * model.trades_per_unit_volume)

    frame = pl.DataFrame(
        {
            "ts": pl.Series(epoch_seconds * 1_000_000).cast(pl.Datetime("us")),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "trades": trades.astype(np.int64),
        }
    ).with_columns(pl.col("ts").dt.replace_time_zone("UTC"))
    return Bars(frame.cast(BAR_SCHEMA), interval)


def generate_trades(
    bars: Bars, *, seed: int, price_decimals: int = 1, volume_decimals: int = 8
) -> pl.DataFrame:
    """Individual trades (`TRADES_SCHEMA`) that aggregate back into exactly `bars`: each bar's
    `trades` count of trades at millisecond-fractional times inside the bar, opening at its
    open, closing at its close, touching its high and low, volumes summing to its volume.
    Bars without volume produce no trades."""
    frame = bars.frame
    volume = frame["volume"].to_numpy()
    counts = np.where(volume > 0, frame["trades"].to_numpy(), 0)
    if np.any((counts > 0) & (counts < MIN_TRADES_PER_BAR)):
        raise ValueError(f"every bar with volume needs at least {MIN_TRADES_PER_BAR} trades")
    rng = np.random.default_rng(seed)
    total = int(counts.sum())
    bar = np.repeat(np.arange(frame.height), counts)
    position = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    last = counts[bar] - 1

    bar_seconds = bars.interval * 60
    offsets = np.floor(rng.random(total) * bar_seconds * 1000.0) / 1000.0
    offsets = offsets[np.lexsort((offsets, bar))]
    bar_start = frame["ts"].dt.epoch("us").to_numpy()
    timestamps = bar_start[bar] + np.round(offsets * 1_000_000).astype(np.int64)

    open_, high, low, close = (frame[c].to_numpy() for c in ("open", "high", "low", "close"))
    inner = np.maximum(counts - 2, 1)
    high_at = 1 + (rng.random(frame.height) * inner).astype(np.int64)
    low_at = (
        1 + (high_at - 1 + 1 + (rng.random(frame.height) * (inner - 1)).astype(np.int64)) % inner
    )
    price = np.round(low[bar] + rng.random(total) * (high[bar] - low[bar]), price_decimals)
    price = np.where(position == high_at[bar], high[bar], price)
    price = np.where(position == low_at[bar], low[bar], price)
    price = np.where(position == 0, open_[bar], price)
    price = np.where(position == last, close[bar], price)

    weights = rng.exponential(size=total)
    share = weights / np.bincount(bar, weights, frame.height)[bar] * volume[bar]
    lot = 10.0**volume_decimals
    sizes = np.floor(share * lot) / lot
    is_last = position == last
    allotted = np.bincount(bar, np.where(is_last, 0.0, sizes), frame.height)
    sizes = np.where(is_last, np.round(volume[bar] - allotted[bar], volume_decimals), sizes)

    trades = pl.DataFrame(
        {
            "ts": pl.Series(timestamps).cast(pl.Datetime("us")),
            "price": price,
            "volume": sizes,
        }
    ).with_columns(pl.col("ts").dt.replace_time_zone("UTC"))
    return trades.cast(TRADES_SCHEMA)


def write_ohlcvt_csv(
    bars: Bars, path: str | Path, *, price_decimals: int = 1, volume_decimals: int = 8
) -> Path:
    """Write bars as a Kraken OHLCVT CSV (no header, Unix-second open times), with fixed
    decimals so volumes never appear in scientific notation."""
    target = Path(path)
    bars.frame.select(
        pl.col("ts").dt.epoch("s").alias("timestamp"),
        *(pl.col(c).cast(pl.Decimal(38, price_decimals)) for c in ("open", "high", "low", "close")),
        pl.col("volume").cast(pl.Decimal(38, volume_decimals)),
        "trades",
    ).write_csv(target, include_header=False)
    return target


def write_trades_csv(
    trades: pl.DataFrame, path: str | Path, *, price_decimals: int = 1, volume_decimals: int = 8
) -> Path:
    """Write trades as a Kraken time-and-sales CSV (no header; fractional Unix seconds)."""
    target = Path(path)
    micros = pl.col("ts").dt.epoch("us")
    trades.select(
        pl.format(
            "{}.{}",
            micros // 1_000_000,
            (micros % 1_000_000).cast(pl.String).str.zfill(6),
        ).alias("timestamp"),
        pl.col("price").cast(pl.Decimal(38, price_decimals)),
        pl.col("volume").cast(pl.Decimal(38, volume_decimals)),
    ).write_csv(target, include_header=False)
    return target


def _intraday_activity(epoch_seconds: np.ndarray) -> np.ndarray:
    """Relative activity by UTC hour, mean 1 over a day: busiest around the US open
    (14:00-16:00 UTC), a smaller European-morning bump, quietest in the late Asian night."""
    daily_mean = np.mean(_activity_at_hour(np.arange(0.0, 24.0, 1.0 / 60.0)))
    return _activity_at_hour((epoch_seconds % 86_400) / 3_600.0) / daily_mean


def _activity_at_hour(hour: np.ndarray) -> np.ndarray:
    us_open = np.exp(-0.5 * ((hour - 15.0) / 2.5) ** 2)
    europe = 0.5 * np.exp(-0.5 * ((hour - 8.5) / 2.0) ** 2)
    return 0.6 + us_open + europe


def _log_volatility(
    rng: np.random.Generator, jumps: np.ndarray, interval: int, model: MarketModel
) -> np.ndarray:
    """Stationary AR(1) log-volatility deviation with standard deviation
    `volatility_of_volatility`, kicked upwards at jumps."""
    persistence = 0.5 ** (interval / model.volatility_half_life_minutes)
    alpha = 1.0 - persistence
    scale = model.volatility_of_volatility * math.sqrt(1.0 - persistence**2) / alpha
    innovations = rng.standard_normal(jumps.size) + model.jump_volatility_shock * jumps
    # A leading zero starts the recursion at the long-run mean instead of at one raw draw.
    series = pl.Series(np.concatenate(([0.0], innovations * scale)))
    return series.ewm_mean(alpha=alpha, adjust=False).to_numpy()[1:]
