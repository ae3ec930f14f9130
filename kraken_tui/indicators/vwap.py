"""Volume-weighted average price, anchored to a session or over a rolling window of bars."""

from __future__ import annotations

import math

from kraken_tui.indicators.base import check_period

SECONDS_PER_DAY = 86_400


class SessionVWAP:
    """VWAP since the start of the current session: sum(price * volume) / sum(volume).

    Crypto trades around the clock, so a "session" is a fixed span of `session_seconds`
    (default one UTC day) counted from the Unix epoch plus `anchor_seconds`; the sums reset on
    the first update whose timestamp falls in a new session. Feed bars with their typical
    price (high + low + close) / 3 and their open time, or trades with their own price. The
    value is None until some volume has traded in the session, where VWAP is undefined.
    """

    __slots__ = (
        "_price_volume",
        "_session",
        "_volume",
        "anchor_seconds",
        "session_seconds",
        "value",
    )

    def __init__(self, session_seconds: int = SECONDS_PER_DAY, anchor_seconds: int = 0) -> None:
        self.session_seconds = check_period("session_seconds", session_seconds)
        self.anchor_seconds = anchor_seconds
        self.reset()

    def reset(self) -> None:
        self._session: int | None = None
        self._price_volume = 0.0
        self._volume = 0.0
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, price: float, volume: float, timestamp: float) -> float | None:
        """`timestamp` is Unix seconds (UTC) of the observation; it decides the session."""
        session = int((timestamp - self.anchor_seconds) // self.session_seconds)
        if session != self._session:
            self._session = session
            self._price_volume = 0.0
            self._volume = 0.0
            self.value = None
        self._price_volume += price * volume
        self._volume += volume
        if self._volume > 0.0:
            vwap = self._price_volume / self._volume
            self.value = vwap
            return vwap
        return None


class RollingVWAP:
    """VWAP over the last `period` observations (bars or trades).

    Running sums keep updates O(1) and are recomputed from the window whenever the ring buffer
    wraps, so rounding error cannot accumulate. None until `period` observations have been
    seen, and None again if every observation in the window had zero volume (for example
    forward-filled gap bars), since VWAP is undefined there.
    """

    __slots__ = (
        "_filled",
        "_index",
        "_pv",
        "_pv_sum",
        "_traded",
        "_volume",
        "_volume_sum",
        "period",
        "value",
    )

    def __init__(self, period: int) -> None:
        self.period = check_period("period", period)
        self.reset()

    def reset(self) -> None:
        self._pv = [0.0] * self.period
        self._volume = [0.0] * self.period
        self._pv_sum = 0.0
        self._volume_sum = 0.0
        self._traded = 0
        self._index = 0
        self._filled = False
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, price: float, volume: float) -> float | None:
        index = self._index
        # Counting observations with volume, rather than testing the running volume sum,
        # keeps a window of zero-volume bars exactly undefined despite subtraction residue.
        evicted = self._volume[index]
        evicted_pv = self._pv[index]
        self._traded += (volume > 0.0) - (evicted > 0.0)
        price_volume = price * volume
        self._pv_sum += price_volume - evicted_pv
        self._volume_sum += volume - evicted
        self._pv[index] = price_volume
        self._volume[index] = volume
        index += 1
        wrapped = index == self.period
        if wrapped:
            index = 0
            self._filled = True
        if wrapped or evicted > self._volume_sum or evicted_pv > self._pv_sum:
            # On wrap, and whenever most of the window's volume or value just left (a running
            # sum is then a small difference of large numbers), recompute them exactly.
            self._pv_sum = math.fsum(self._pv)
            self._volume_sum = math.fsum(self._volume)
        self._index = index
        if self._filled and self._traded:
            vwap = self._pv_sum / self._volume_sum
            self.value = vwap
            return vwap
        self.value = None
        return None
