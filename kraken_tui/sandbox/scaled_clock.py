"""Venue time that runs faster than wall time, so minute candles close in seconds.

Strategies that need twenty closed 1-minute candles would otherwise need twenty minutes of
wall time before their first signal; at `scale` 60 a candle closes every second. The clock
starts at the wall time it was made at, so timestamps stay plausible dates, and it only ever
moves forward as wall time does. A sandbox restarted on a state file written by a faster run
starts its clock at the newest time stamped in that file instead (`start`), so order and fill
times never go backwards across restarts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class ScaledClock:
    """`clock()` = start + (wall() - origin) * scale in Unix seconds, where `origin` is the wall
    time at creation and `start` the venue time then (by default the same)."""

    def __init__(
        self, scale: float, wall: Callable[[], float] = time.time, *, start: float | None = None
    ) -> None:
        if not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"time scale must be a positive number, got {scale}")
        self.scale = scale
        self._wall = wall
        self.origin = wall()
        self.start = self.origin if start is None else start

    def __call__(self) -> float:
        return self.start + (self._wall() - self.origin) * self.scale
