"""Virtual time for a replay, kept as integer microseconds since the Unix epoch.

A year of minute bars moves the clock 525,600 times; storing one int per bar and building a
`datetime` only when somebody asks (`now()`) keeps that off the per-bar cost. It satisfies the
engine's `Clock` protocol, so the strategies, the risk manager and the sandbox venue all read
the same replayed time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTES_PER_YEAR = 525_600
"""Crypto trades 365 days × 24 h: the year that annualizes returns and scales synthetic
volatility."""


class ReplayClock:
    """`epoch_us` is written directly by the replay loop, which only ever moves it forward
    (bars are sorted); `advance_to` is the checked way for everybody else."""

    __slots__ = ("_origin_us", "epoch_us")

    def __init__(self, start_us: int) -> None:
        self._origin_us = start_us
        self.epoch_us = start_us

    def now(self) -> datetime:
        return UNIX_EPOCH + timedelta(microseconds=self.epoch_us)

    def monotonic(self) -> float:
        return (self.epoch_us - self._origin_us) / 1_000_000

    def seconds(self) -> float:
        """Unix seconds: the sandbox venue's clock."""
        return self.epoch_us / 1_000_000

    def advance_to(self, epoch_us: int) -> None:
        if epoch_us < self.epoch_us:
            raise ValueError(f"replay time cannot go back from {self.epoch_us} to {epoch_us} µs")
        self.epoch_us = epoch_us


def to_epoch_us(moment: datetime) -> int:
    """Exact microseconds (no float rounding) of an aware datetime."""
    delta = moment - UNIX_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
