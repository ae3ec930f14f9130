"""One lifecycle for every engine component, so the UI and the logs describe the exchange
adapter, the order manager and each strategy host in the same words.

    stopped ─► starting ─► running ◄─► degraded
                  │           │            │
                  └───────────┴──► stopping ─► stopped
    any live state ─► faulted ─► stopping / stopped

`degraded` means "working, but not as designed" (stale book, lagging subscriber, slow
exchange); `faulted` means "stopped working and needs attention".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from loguru import logger

from kraken_tui.clock import Clock
from kraken_tui.domain import ComponentState

S = ComponentState

ALLOWED_TRANSITIONS: dict[ComponentState, frozenset[ComponentState]] = {
    S.STOPPED: frozenset({S.STARTING}),
    S.STARTING: frozenset({S.RUNNING, S.DEGRADED, S.STOPPING, S.FAULTED}),
    S.RUNNING: frozenset({S.DEGRADED, S.STOPPING, S.FAULTED}),
    S.DEGRADED: frozenset({S.RUNNING, S.STOPPING, S.FAULTED}),
    S.STOPPING: frozenset({S.STOPPED, S.FAULTED}),
    S.FAULTED: frozenset({S.STOPPING, S.STOPPED}),
}


class InvalidTransition(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class StateChange:
    component: str
    previous: ComponentState
    state: ComponentState
    reason: str
    ts: datetime


Listener = Callable[[StateChange], None]


class Lifecycle:
    """The state of one component. Illegal transitions raise: a component that tries to go
    from `stopped` to `running` has skipped its start-up and must not pretend otherwise."""

    def __init__(self, component: str, clock: Clock) -> None:
        self.component = component
        self._clock = clock
        self._state = ComponentState.STOPPED
        self._reason = ""
        self._since = clock.now()
        self._listeners: list[Listener] = []

    @property
    def state(self) -> ComponentState:
        return self._state

    @property
    def reason(self) -> str:
        return self._reason

    @property
    def since(self) -> datetime:
        return self._since

    @property
    def is_live(self) -> bool:
        """Running or degraded: the component is doing its job, perhaps imperfectly."""
        return self._state in (ComponentState.RUNNING, ComponentState.DEGRADED)

    def can_transition(self, state: ComponentState) -> bool:
        return state in ALLOWED_TRANSITIONS[self._state]

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def transition(self, state: ComponentState, reason: str = "") -> StateChange | None:
        """Move to `state`; returns None when already there (idempotent), raises when the
        move is not allowed."""
        if state is self._state:
            self._reason = reason or self._reason
            return None
        if not self.can_transition(state):
            raise InvalidTransition(
                f"{self.component}: cannot go from {self._state} to {state} ({reason})"
            )
        change = StateChange(self.component, self._state, state, reason, self._clock.now())
        self._state, self._reason, self._since = state, reason, change.ts
        level = "ERROR" if state is ComponentState.FAULTED else "INFO"
        if state is ComponentState.DEGRADED:
            level = "WARNING"
        suffix = f": {reason}" if reason else ""
        logger.log(level, "{} {} -> {}{}", self.component, change.previous, state, suffix)
        for listener in self._listeners:
            listener(change)
        return change

    def degrade(self, reason: str) -> None:
        if self._state is ComponentState.RUNNING:
            self.transition(ComponentState.DEGRADED, reason)

    def recover(self, reason: str = "recovered") -> None:
        if self._state is ComponentState.DEGRADED:
            self.transition(ComponentState.RUNNING, reason)
