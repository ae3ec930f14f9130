"""Moving Average Convergence/Divergence (Appel): trend and momentum from two EMAs."""

from __future__ import annotations

from typing import NamedTuple

from kraken_tui.indicators.base import check_period


class MACDValue(NamedTuple):
    macd: float
    signal: float
    histogram: float


class MACD:
    """MACD line = EMA(fast) - EMA(slow); signal = EMA(signal_period) of the MACD line;
    histogram = line - signal.

    All three EMAs are the `adjust=False` recursion seeded with their first input (see `EMA`)
    and run from the very first price, which is what a pandas/polars `ewm_mean` over the whole
    series computes, so bulk ML features match live values exactly. A value is reported only
    after slow_period + signal_period - 1 prices, when both the slow EMA and the signal line
    have seen a full period.
    """

    __slots__ = (
        "_count",
        "_fast",
        "_fast_alpha",
        "_signal",
        "_signal_alpha",
        "_slow",
        "_slow_alpha",
        "_warmup",
        "fast_period",
        "signal_period",
        "slow_period",
        "value",
    )

    def __init__(
        self, fast_period: int = 12, slow_period: int = 26, signal_period: int = 9
    ) -> None:
        self.fast_period = check_period("fast_period", fast_period)
        self.slow_period = check_period("slow_period", slow_period)
        self.signal_period = check_period("signal_period", signal_period)
        if fast_period >= slow_period:
            raise ValueError(
                f"fast_period ({fast_period}) must be shorter than slow_period ({slow_period})"
            )
        self._fast_alpha = 2.0 / (fast_period + 1.0)
        self._slow_alpha = 2.0 / (slow_period + 1.0)
        self._signal_alpha = 2.0 / (signal_period + 1.0)
        self._warmup = slow_period + signal_period - 1
        self.reset()

    def reset(self) -> None:
        self._fast = 0.0
        self._slow = 0.0
        self._signal = 0.0
        self._count = 0
        self.value: MACDValue | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, value: float) -> MACDValue | None:
        count = self._count
        if count:
            fast = self._fast + self._fast_alpha * (value - self._fast)
            slow = self._slow + self._slow_alpha * (value - self._slow)
            line = fast - slow
            signal = self._signal + self._signal_alpha * (line - self._signal)
        else:
            fast = slow = value
            line = signal = 0.0
        self._fast = fast
        self._slow = slow
        self._signal = signal
        count += 1
        self._count = count
        if count >= self._warmup:
            result = MACDValue(line, signal, line - signal)
            self.value = result
            return result
        return None
