"""Bollinger bands: a moving average with bands a number of standard deviations away."""

from __future__ import annotations

import math
from typing import NamedTuple

from kraken_tui.indicators.base import check_period


class BollingerValue(NamedTuple):
    mid: float
    upper: float
    lower: float

    def percent_b(self, price: float) -> float | None:
        """Where `price` sits in the band: 0 at the lower band, 1 at the upper; None when the
        band has zero width (a flat window), where the position is undefined."""
        width = self.upper - self.lower
        if width <= 0.0:
            return None
        return (price - self.lower) / width


class BollingerBands:
    """mid = SMA(period); upper/lower = mid ± num_std * σ, with σ the *population* standard
    deviation of the window (divide by N), as Bollinger and TA-Lib define it — polars'
    `rolling_std(period, ddof=0)`.

    Mean and sum of squared deviations are slid with Welford-style add/remove updates, which
    stay accurate at BTC price levels where the naive E[x²] - E[x]² cancels catastrophically;
    both are recomputed exactly whenever the ring buffer wraps so error cannot accumulate.
    """

    __slots__ = ("_filled", "_index", "_m2", "_mean", "_window", "num_std", "period", "value")

    def __init__(self, period: int = 20, num_std: float = 2.0) -> None:
        self.period = check_period("period", period)
        if not num_std > 0.0:
            raise ValueError(f"num_std must be positive, got {num_std!r}")
        self.num_std = float(num_std)
        self.reset()

    def reset(self) -> None:
        self._window = [0.0] * self.period
        self._index = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._filled = False
        self.value: BollingerValue | None = None

    @property
    def ready(self) -> bool:
        return self._filled

    def update(self, value: float) -> BollingerValue | None:
        period = self.period
        window = self._window
        index = self._index
        mean = self._mean
        if self._filled:
            old = window[index]
            new_mean = mean + (value - old) / period
            self._m2 += (value - old) * (value - new_mean + old - mean)
        else:
            new_mean = mean + (value - mean) / (index + 1)
            self._m2 += (value - mean) * (value - new_mean)
        self._mean = new_mean
        window[index] = value
        index += 1
        if index == period:
            index = 0
            self._filled = True
            exact_mean = math.fsum(window) / period
            self._mean = exact_mean
            self._m2 = math.fsum((x - exact_mean) ** 2 for x in window)
        self._index = index
        if not self._filled:
            return None
        m2 = self._m2
        deviation = self.num_std * math.sqrt(m2 / period) if m2 > 0.0 else 0.0
        mid = self._mean
        result = BollingerValue(mid, mid + deviation, mid - deviation)
        self.value = result
        return result
