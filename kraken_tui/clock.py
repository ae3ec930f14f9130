"""Injectable time: live runs read the wall clock, tests and backtests drive a virtual one, and
no engine code calls `datetime.now()` or `time.monotonic()` directly.

It sits at the top of the package, below `engine` and `strategies` alike: both read the
same clock, and neither may import the other's package to get it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """Current UTC time (timezone-aware)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards, for timeouts and rate windows."""


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class VirtualClock:
    """Time that moves only when told to, so a test or backtest can replay hours in
    milliseconds and be exactly reproducible."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start time")
        self._now = start
        self._origin = start

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return (self._now - self._origin).total_seconds()

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, when: datetime) -> None:
        if when < self._now:
            raise ValueError(f"cannot move the clock back from {self._now} to {when}")
        self._now = when
