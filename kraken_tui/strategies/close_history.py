"""Recent closes of one candle series, persisted so a restarted strategy resumes warm.

Indicators need `slow` (or more) bars before they say anything; without this, every restart of
the engine would blind a strategy for that long. The strategy keeps its latest closes in its
persisted `state`, replays them into fresh indicators on restore, and throws them away if the
first candle after the restart does not follow on from the last one it saw (the engine was down
long enough for a gap, so the replayed values would describe a market that has moved on).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any


class CloseHistory:
    """The owner appends to `closes` and sets `last_ts` itself on every bar: two plain stores,
    because a method call per bar is a measurable share of a backtest's time."""

    __slots__ = ("closes", "last_ts")

    def __init__(self, keep: int) -> None:
        self.closes: deque[float] = deque(maxlen=keep)
        self.last_ts: datetime | None = None

    def clear(self) -> None:
        self.closes.clear()
        self.last_ts = None

    def follows(self, ts: datetime, interval_minutes: int) -> bool:
        """True when a candle opening at `ts` is the one right after the last recorded."""
        return self.last_ts is not None and ts - self.last_ts == timedelta(minutes=interval_minutes)

    def seen(self, ts: datetime) -> bool:
        """True for a candle already recorded (the feed replays its latest bar on reconnect)."""
        return self.last_ts is not None and ts <= self.last_ts

    def dump(self) -> dict[str, Any]:
        return {
            "closes": list(self.closes),
            "last_ts": None if self.last_ts is None else self.last_ts.isoformat(),
        }

    def load(self, raw: Mapping[str, Any]) -> None:
        """Replace the contents with a `dump()`; malformed input leaves the history empty."""
        self.clear()
        closes = raw.get("closes")
        last_ts = raw.get("last_ts")
        if not isinstance(closes, list) or not isinstance(last_ts, str):
            return
        if not all(isinstance(close, int | float) for close in closes):
            return
        try:
            self.last_ts = datetime.fromisoformat(last_ts)
        except ValueError:
            return
        self.closes.extend(float(close) for close in closes)
