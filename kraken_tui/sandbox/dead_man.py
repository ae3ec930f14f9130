"""Kraken's dead-man switch (CancelAllOrdersAfter): per account, a deadline that, when a
`tick` finds it passed, cancels all of that account's open orders.

Clients re-arm it every few seconds; if they stop (crash, lost connection), their orders go.
"""

from __future__ import annotations

from kraken_tui.sandbox.errors import VenueError, invalid_argument
from kraken_tui.sandbox.records import DeadManSwitch

MAX_DEAD_MAN_TIMEOUT_S = 86_400


class DeadManSwitches:
    def __init__(self) -> None:
        self._deadlines: dict[str, float] = {}

    def arm(self, api_key: str, timeout_s: int, now: float) -> DeadManSwitch:
        """Arm for `timeout_s` seconds from `now`, or with 0 disarm."""
        if not 0 <= timeout_s < MAX_DEAD_MAN_TIMEOUT_S:
            raise VenueError(invalid_argument("timeout"))
        if timeout_s == 0:
            self._deadlines.pop(api_key, None)
            return DeadManSwitch(now, None)
        deadline = now + timeout_s
        self._deadlines[api_key] = deadline
        return DeadManSwitch(now, deadline)

    def fire_expired(self, now: float) -> list[str]:
        """Disarm the switches whose deadline passed; returns their accounts."""
        expired = [api_key for api_key, deadline in self._deadlines.items() if deadline <= now]
        for api_key in expired:
            del self._deadlines[api_key]
        return expired
