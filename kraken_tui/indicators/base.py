"""What every indicator offers, so strategies, the UI and ML features can treat them alike."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Indicator(Protocol):
    """An incremental indicator: fed one observation at a time, O(1) work per update.

    `update(...)` takes the newest observation (its arguments differ per indicator: a price,
    or high/low/close, or price/volume) and returns the current value, or None while the
    indicator is still warming up. The same object serves live trading and backtests, so a
    strategy behaves identically in both.
    """

    @property
    def value(self) -> Any:
        """The latest value, or None while warming up."""
        ...

    @property
    def ready(self) -> bool:
        """True once enough observations have been seen for `value` to be meaningful."""
        ...

    def reset(self) -> None:
        """Forget all observations, as if freshly constructed."""
        ...


def check_period(name: str, period: int) -> int:
    """Reject periods that would silently produce nonsense (zero, negative, fractional)."""
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"{name} must be a positive integer, got {period!r}")
    return period
