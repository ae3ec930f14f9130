"""`AlertBoard`: where the engine raises alerts, repeats are grouped, and whoever delivers or
shows them listens.

Grouping: the same alert (kind and subject) goes out at most once per `repeat_interval_s`.
Repeats inside that window are counted, not sent; when the window ends with repeats pending,
`flush_repeats` (the engine's housekeeping calls it) sends one alert carrying the latest
title and the count, so a flapping connection is one message every few minutes instead of a
phone buzzing all night, and nothing is silently swallowed.

Everything runs on the engine's loop thread; listeners must not block (the delivery side only
queues). Delivery counters come back through `record_delivery`, on the same thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from loguru import logger

from kraken_tui.alerts.alert import Alert, AlertKind, AlertLevel, AlertsSnapshot
from kraken_tui.clock import Clock

RECENT_KEPT = 50
"""Alerts kept in the snapshot: the console's notifications and an attached console's view."""
HISTORY_KEPT = 2_000
"""Alerts kept for the daily summary's count (a day of alerts, bounded)."""

AlertListener = Callable[[Alert], None]


@dataclass(slots=True)
class _Group:
    opened: float
    first_ts: datetime
    repeats: int = 0
    latest: tuple[AlertLevel, str, str] | None = None


class AlertBoard:
    def __init__(self, clock: Clock, repeat_interval_s: float = 300.0) -> None:
        if repeat_interval_s < 0:
            raise ValueError(f"repeat_interval_s must not be negative, got {repeat_interval_s}")
        self._clock = clock
        self.repeat_interval_s = repeat_interval_s
        self._groups: dict[tuple[AlertKind, str], _Group] = {}
        self._listeners: list[AlertListener] = []
        self._change_listeners: list[Callable[[], None]] = []
        self._history: deque[Alert] = deque(maxlen=HISTORY_KEPT)
        self._seq = 0
        self._snapshot = AlertsSnapshot()

    @property
    def snapshot(self) -> AlertsSnapshot:
        return self._snapshot

    def on_alert(self, listener: AlertListener) -> None:
        """Called with every alert sent (not with grouped repeats)."""
        self._listeners.append(listener)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Called whenever the snapshot is replaced."""
        self._change_listeners.append(listener)

    def raise_alert(
        self,
        level: AlertLevel,
        kind: AlertKind,
        title: str,
        detail: str = "",
        subject: str = "",
    ) -> Alert | None:
        """Send the alert, or count it as a repeat of one sent less than the interval ago
        (returns None then)."""
        key = (kind, subject)
        now = self._clock.monotonic()
        group = self._groups.get(key)
        if group is not None and now - group.opened < self.repeat_interval_s:
            group.repeats += 1
            group.latest = (level, title, detail)
            self._update(grouped=self._snapshot.grouped + 1)
            logger.debug("alert {} repeated ({} so far): {}", kind, group.repeats, title)
            return None
        self._groups[key] = _Group(opened=now, first_ts=self._clock.now())
        return self._send(level, kind, title, detail, subject, count=1, first_ts=None)

    def flush_repeats(self) -> None:
        """Send one alert for each group whose window ended with repeats counted in it."""
        now = self._clock.monotonic()
        for (kind, subject), group in list(self._groups.items()):
            if now - group.opened < self.repeat_interval_s:
                continue
            if group.repeats == 0 or group.latest is None:
                del self._groups[(kind, subject)]
                continue
            level, title, detail = group.latest
            first_ts = group.first_ts
            self._groups[(kind, subject)] = _Group(opened=now, first_ts=self._clock.now())
            self._send(level, kind, title, detail, subject, count=group.repeats, first_ts=first_ts)

    def record_delivery(self, *, delivered: int = 0, failed: int = 0, dropped: int = 0) -> None:
        snap = self._snapshot
        self._update(
            delivered=snap.delivered + delivered,
            failed=snap.failed + failed,
            dropped=snap.dropped + dropped,
        )

    def set_destinations(self, count: int) -> None:
        self._update(destinations=count)

    def since(self, ts: datetime) -> list[Alert]:
        """Alerts sent at or after `ts`, oldest first (for the daily summary)."""
        return [alert for alert in self._history if alert.ts >= ts]

    def _send(
        self,
        level: AlertLevel,
        kind: AlertKind,
        title: str,
        detail: str,
        subject: str,
        *,
        count: int,
        first_ts: datetime | None,
    ) -> Alert:
        self._seq += 1
        alert = Alert(
            seq=self._seq,
            ts=self._clock.now(),
            level=level,
            kind=kind,
            title=title,
            detail=detail,
            subject=subject,
            count=count,
            first_ts=first_ts,
        )
        self._history.append(alert)
        snap = self._snapshot
        self._update(recent=(*snap.recent[-(RECENT_KEPT - 1) :], alert), raised=snap.raised + 1)
        # INFO, not the alert's level: what raised it has logged the event at its own level,
        # and a second CRITICAL line would count as a second event.
        logger.info("alert ({}): {}{}", level, alert.headline, f" | {detail}" if detail else "")
        for listener in self._listeners:
            try:
                listener(alert)
            except Exception:
                logger.opt(exception=True).error("alert listener failed on {}", alert.title)
        return alert

    def _update(self, **changes: Any) -> None:
        self._snapshot = replace(self._snapshot, **changes)
        for listener in self._change_listeners:
            listener()
