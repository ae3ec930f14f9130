"""Simple and exponential moving averages, the building blocks of most other indicators."""

from __future__ import annotations

from kraken_tui.indicators.base import check_period


class SMA:
    """Arithmetic mean of the last `period` values.

    A running sum keeps updates O(1); the sum is recomputed from the window each time the ring
    buffer wraps (once every `period` updates, so still O(1) amortized) so that rounding error
    cannot accumulate over a year of minute bars.
    """

    __slots__ = ("_filled", "_index", "_sum", "_window", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = check_period("period", period)
        self.reset()

    def reset(self) -> None:
        self._window = [0.0] * self.period
        self._index = 0
        self._sum = 0.0
        self._filled = False
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self._filled

    def update(self, value: float) -> float | None:
        index = self._index
        window = self._window
        self._sum += value - window[index]
        window[index] = value
        index += 1
        if index == self.period:
            index = 0
            self._sum = sum(window)
            self._filled = True
        self._index = index
        if self._filled:
            mean = self._sum / self.period
            self.value = mean
            return mean
        return None


class EMA:
    """Exponential moving average with alpha = 2 / (period + 1), seeded with the first value.

    This is the recursive form y[t] = (1 - alpha) * y[t-1] + alpha * x[t] that pandas and
    polars compute with `adjust=False`, so bulk features and live values agree; as a convex
    combination it also never strays outside the inputs' range, even across huge jumps. The
    average runs from the first value, but `value` stays None until `period` values have been
    seen, because before that the seed still dominates.
    """

    __slots__ = ("_count", "_ema", "_keep", "alpha", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = check_period("period", period)
        self.alpha = 2.0 / (period + 1.0)
        self._keep = 1.0 - self.alpha
        self.reset()

    def reset(self) -> None:
        self._ema = 0.0
        self._count = 0
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self._count >= self.period

    def update(self, value: float) -> float | None:
        count = self._count
        ema = self._keep * self._ema + self.alpha * value if count else value
        self._ema = ema
        count += 1
        self._count = count
        if count >= self.period:
            self.value = ema
            return ema
        return None
