"""Relative Strength Index with Wilder's smoothing, as Wilder (1978) and TA-Lib define it."""

from __future__ import annotations

from kraken_tui.indicators.base import check_period


class RSI:
    """RSI in [0, 100] over `period` price changes (default 14).

    The first average gain/loss is the plain mean of the first `period` changes; after that
    each average is smoothed as avg = (avg * (period - 1) + change) / period. The first value
    therefore appears on the (period + 1)-th price. A flat market (no gains and no losses)
    reads 50; a window without losses reads 100.
    """

    __slots__ = ("_avg_gain", "_avg_loss", "_count", "_previous", "period", "value")

    def __init__(self, period: int = 14) -> None:
        self.period = check_period("period", period)
        self.reset()

    def reset(self) -> None:
        self._previous = 0.0
        self._avg_gain = 0.0
        self._avg_loss = 0.0
        self._count = 0
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, value: float) -> float | None:
        count = self._count
        self._count = count + 1
        if count == 0:
            self._previous = value
            return None
        change = value - self._previous
        self._previous = value
        gain = change if change > 0.0 else 0.0
        loss = -change if change < 0.0 else 0.0
        period = self.period
        if count < period:
            self._avg_gain += gain
            self._avg_loss += loss
            return None
        if count == period:
            avg_gain = (self._avg_gain + gain) / period
            avg_loss = (self._avg_loss + loss) / period
        else:
            avg_gain = (self._avg_gain * (period - 1) + gain) / period
            avg_loss = (self._avg_loss * (period - 1) + loss) / period
        self._avg_gain = avg_gain
        self._avg_loss = avg_loss
        if avg_loss == 0.0:
            rsi = 50.0 if avg_gain == 0.0 else 100.0
        else:
            rsi = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
        self.value = rsi
        return rsi
