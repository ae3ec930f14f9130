"""Average True Range (Wilder): volatility in price units, used for stops and position size."""

from __future__ import annotations

from kraken_tui.indicators.base import check_period


class ATR:
    """Wilder's ATR over `period` bars (default 14).

    True range is max(high - low, |high - previous close|, |low - previous close|); the first
    bar has no previous close, so its true range is high - low (Wilder's original rule). The
    first ATR is the mean of the first `period` true ranges, after which it is smoothed as
    atr = (atr * (period - 1) + tr) / period.
    """

    __slots__ = ("_atr", "_count", "_previous_close", "_sum", "period", "value")

    def __init__(self, period: int = 14) -> None:
        self.period = check_period("period", period)
        self.reset()

    def reset(self) -> None:
        self._previous_close = 0.0
        self._sum = 0.0
        self._atr = 0.0
        self._count = 0
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, high: float, low: float, close: float) -> float | None:
        true_range = high - low
        count = self._count
        if count:
            previous = self._previous_close
            if high - previous > true_range:
                true_range = high - previous
            if previous - low > true_range:
                true_range = previous - low
        self._previous_close = close
        count += 1
        self._count = count
        period = self.period
        if count < period:
            self._sum += true_range
            return None
        if count == period:
            atr = (self._sum + true_range) / period
        else:
            atr = (self._atr * (period - 1) + true_range) / period
        self._atr = atr
        self.value = atr
        return atr
