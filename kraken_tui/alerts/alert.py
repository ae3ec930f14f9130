"""The values an alert is made of, shared by the engine that raises it, the console that
shows it and the Redis codec that carries it (plain frozen dataclasses, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AlertLevel(StrEnum):
    """Ordered like log levels, with the same names, so `min_level` reads like a log level."""

    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {AlertLevel.INFO: 0, AlertLevel.WARNING: 1, AlertLevel.ERROR: 2, AlertLevel.CRITICAL: 3}


class AlertKind(StrEnum):
    """What happened; with the alert's subject it is the key repeats are grouped by."""

    KILL_SWITCH = "kill_switch"
    TRADING_STATE = "trading_state"
    CONNECTION_LOST = "connection_lost"
    CONNECTION_BACK = "connection_back"
    RECONCILIATION = "reconciliation"
    STRATEGY_ERROR = "strategy_error"
    DEAD_MAN_SWITCH = "dead_man_switch"
    LIVE_MODE = "live_mode"
    DAILY_SUMMARY = "daily_summary"
    TEST = "test"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as sent: `title` is the one line a phone shows, `detail` the numbers behind
    it. `count` > 1 when repeats within the grouping interval were folded into this one,
    `first_ts` being the first of them."""

    seq: int
    ts: datetime
    level: AlertLevel
    kind: AlertKind
    title: str
    detail: str = ""
    subject: str = ""
    count: int = 1
    first_ts: datetime | None = None

    @property
    def headline(self) -> str:
        """The title with the repeat count, as delivered."""
        return self.title if self.count == 1 else f"{self.title} (x{self.count})"


@dataclass(frozen=True, slots=True)
class AlertsSnapshot:
    """The engine's alerts as the console and `ctl status` see them: the most recent ones
    (oldest first) and the delivery counters, `dropped` being alerts a full queue refused."""

    recent: tuple[Alert, ...] = ()
    raised: int = 0
    grouped: int = 0
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    destinations: int = 0
