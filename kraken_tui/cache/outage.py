"""Reconnect policy shared by everything that talks to Redis in the background: back off
exponentially with jitter, say once that Redis is gone and once that it is back, and never
raise into the caller, since Redis is optional and trading must go on without it."""

from __future__ import annotations

import random

from loguru import logger


class Outage:
    """Tracks one background loop's Redis outages. `failed` returns the delay to wait before
    the next attempt; the first failure of an outage is a warning, the rest are debug lines,
    so a Redis that stays down for an hour does not flood the log."""

    def __init__(
        self, what: str, *, initial_s: float = 0.2, maximum_s: float = 5.0, jitter: float = 0.2
    ) -> None:
        self.what = what
        self.initial_s = initial_s
        self.maximum_s = maximum_s
        self.jitter = jitter
        self.down = False
        self.failures = 0
        self._delay_s = initial_s

    def failed(self, error: BaseException) -> float:
        self.failures += 1
        if not self.down:
            self.down = True
            logger.warning(
                "{}: Redis unavailable ({}); retrying in the background", self.what, error
            )
        else:
            logger.debug("{}: Redis still unavailable ({})", self.what, error)
        delay = self._delay_s * (1 + random.uniform(-self.jitter, self.jitter))
        self._delay_s = min(self._delay_s * 2, self.maximum_s)
        return delay

    def recovered(self) -> None:
        if self.down:
            logger.info("{}: Redis connection restored", self.what)
        self.down = False
        self._delay_s = self.initial_s
