"""Fault injection: the sandbox misbehaves on purpose so clients' recovery paths get tested.

Counted faults ("reject the next 3 orders") are consumed one by one as traffic passes; timed
faults (delay, stall) hold until changed. The same plan is set from configuration at start
or at run time through the loopback-only control endpoint `POST /_sandbox/faults`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum

DEFAULT_REJECT_ERROR = "EService:Unavailable"


class DropTarget(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    ALL = "all"


@dataclass(slots=True)
class FaultPlan:
    """What to break. Counts are "the next N"; zero means off."""

    ws_delay_ms: float = 0.0
    """Hold every outgoing WebSocket message this long before sending it."""
    ws_reorder: int = 0
    """Swap the next N pairs of outgoing public WebSocket messages."""
    corrupt_checksums: int = 0
    """Send the next N book messages with a wrong checksum."""
    reject_orders: int = 0
    """Refuse the next N order placements (REST or WebSocket) with `reject_error`."""
    reject_error: str = DEFAULT_REJECT_ERROR
    rate_limit: int = 0
    """Answer the next N private REST calls and order requests with a rate-limit error."""
    rest_5xx: int = 0
    """Answer the next N REST calls with HTTP `rest_5xx_status` instead of the envelope."""
    rest_5xx_status: int = 503
    stall_s: float = 0.0
    """From the moment it is set, stop answering REST and sending WebSocket messages for
    this many seconds (requests and messages wait, then proceed)."""

    @classmethod
    def field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls))


_INT_FIELDS = frozenset(
    {
        "ws_reorder",
        "corrupt_checksums",
        "reject_orders",
        "rate_limit",
        "rest_5xx",
        "rest_5xx_status",
    }
)
_FLOAT_FIELDS = frozenset({"ws_delay_ms", "stall_s"})


class FaultRequestError(ValueError):
    """A control request named an unknown fault or gave it a bad value."""


@dataclass
class FaultInjector:
    """The live fault plan plus the hooks that act on it."""

    clock: Callable[[], float] = time.monotonic
    plan: FaultPlan = field(default_factory=FaultPlan)
    stall_until: float = 0.0
    _drop_listeners: list[Callable[[DropTarget], int]] = field(default_factory=list)

    def apply(self, changes: Mapping[str, object]) -> dict[str, object]:
        """Merge a control request into the plan. `drop_ws` ("public"|"private"|"all") is an
        action, not a setting: it closes the matching connections now. `reset: true` clears
        everything first. Returns the resulting state."""
        unknown = set(changes) - FaultPlan.field_names() - {"drop_ws", "reset"}
        if unknown:
            raise FaultRequestError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        if changes.get("reset"):
            self.plan = FaultPlan()
            self.stall_until = 0.0
        for name, value in changes.items():
            if name in {"drop_ws", "reset"}:
                continue
            setattr(self.plan, name, _coerce(name, value))
        if "stall_s" in changes:
            self.stall_until = self.clock() + self.plan.stall_s
        dropped = 0
        if "drop_ws" in changes:
            try:
                target = DropTarget(str(changes["drop_ws"]))
            except ValueError as exc:
                raise FaultRequestError("drop_ws must be public, private or all") from exc
            dropped = sum(listener(target) for listener in self._drop_listeners)
        return {**self.state(), "dropped_connections": dropped}

    def state(self) -> dict[str, object]:
        return {**asdict(self.plan), "stall_remaining_s": self.stall_remaining()}

    def on_drop(self, listener: Callable[[DropTarget], int]) -> None:
        """Register a WebSocket hub; it closes its matching connections and returns how many."""
        self._drop_listeners.append(listener)

    def stall_remaining(self) -> float:
        return max(0.0, self.stall_until - self.clock())

    def take_rest_5xx(self) -> int | None:
        if self.plan.rest_5xx <= 0:
            return None
        self.plan.rest_5xx -= 1
        return self.plan.rest_5xx_status

    def take_rate_limit(self) -> bool:
        if self.plan.rate_limit <= 0:
            return False
        self.plan.rate_limit -= 1
        return True

    def take_reject(self) -> str | None:
        if self.plan.reject_orders <= 0:
            return None
        self.plan.reject_orders -= 1
        return self.plan.reject_error

    def take_corrupt_checksum(self) -> bool:
        if self.plan.corrupt_checksums <= 0:
            return False
        self.plan.corrupt_checksums -= 1
        return True

    def take_reorder(self) -> bool:
        if self.plan.ws_reorder <= 0:
            return False
        self.plan.ws_reorder -= 1
        return True


def _coerce(name: str, value: object) -> object:
    try:
        if name in _INT_FIELDS:
            number = int(value)  # type: ignore[call-overload]  # any JSON value; a bad one raises
            if number < 0:
                raise FaultRequestError(f"{name} must not be negative")
            return number
        if name in _FLOAT_FIELDS:
            number_f = float(value)  # type: ignore[arg-type]  # any JSON value; a bad one raises
            if number_f < 0:
                raise FaultRequestError(f"{name} must not be negative")
            return number_f
    except (TypeError, ValueError) as exc:
        if isinstance(exc, FaultRequestError):
            raise
        raise FaultRequestError(f"{name}: {value!r} is not a number") from exc
    if not isinstance(value, str) or not value:
        raise FaultRequestError(f"{name} must be a non-empty string")
    return value
