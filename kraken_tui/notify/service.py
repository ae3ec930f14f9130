"""`AlertService`: what the runtime puts beside an engine so its alerts reach people.

It listens on the engine's `AlertBoard`, hands each alert at or above `min_level` to every
destination's queue (never waiting), and brings delivery outcomes back onto the engine's
loop, where they become the counters of the alerts snapshot. The daily summary, when turned
on, is raised on the same board at its UTC time, so it is delivered, logged and shown like
any other alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from loguru import logger

from kraken_tui.alerts.alert import Alert, AlertKind, AlertLevel
from kraken_tui.engine.engine import TradingEngine
from kraken_tui.notify.daily_summary import daily_summary, next_summary_at
from kraken_tui.notify.delivery import (
    DeliveryPolicy,
    DeliveryResult,
    Destination,
    ResultListener,
)
from kraken_tui.settings import AlertsSettings

STOP_GRACE_S = 5.0
"""How long a stopping engine waits for queued alerts (a kill switch fired just before the
stop is exactly the alert that must not be lost)."""
ALWAYS_SENT = frozenset({AlertKind.DAILY_SUMMARY, AlertKind.TEST})
"""Alerts sent whatever `min_level` says: someone asked for them explicitly."""


def policy_of(settings: AlertsSettings) -> DeliveryPolicy:
    return DeliveryPolicy(
        timeout_s=settings.timeout_s,
        retries=settings.retries,
        retry_backoff_s=settings.retry_backoff_s,
        queue_size=settings.queue_size,
    )


def destinations_of(settings: AlertsSettings, on_result: ResultListener) -> list[Destination]:
    policy = policy_of(settings)
    return [Destination(url.get_secret_value(), policy, on_result) for url in settings.urls]


class AlertService:
    def __init__(self, engine: TradingEngine, settings: AlertsSettings) -> None:
        self._engine = engine
        self._board = engine.alerts
        self._settings = settings
        self._min_level = AlertLevel(settings.min_level)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._destinations: list[Destination] = []
        self._summary_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._destinations = destinations_of(self._settings, self._from_worker)
        for destination in self._destinations:
            destination.start()
        self._board.set_destinations(len(self._destinations))
        self._board.on_alert(self._on_alert)
        if self._destinations:
            logger.info(
                "alerts at {} and above go to {}",
                self._min_level,
                ", ".join(d.name for d in self._destinations),
            )
        if self._settings.daily_summary:
            self._summary_task = asyncio.create_task(self._daily(), name="daily alert summary")

    async def stop(self) -> None:
        if self._summary_task is not None:
            self._summary_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._summary_task
        destinations, self._destinations = self._destinations, []
        if destinations:
            await asyncio.to_thread(_stop_all, destinations, STOP_GRACE_S)

    def _on_alert(self, alert: Alert) -> None:
        if alert.kind not in ALWAYS_SENT and alert.level.rank < self._min_level.rank:
            return
        dropped = 0
        for destination in self._destinations:
            if not destination.offer(alert):
                dropped += 1
                logger.warning(
                    "alert queue to {} is full: dropped {!r}", destination.name, alert.headline
                )
        if dropped:
            self._board.record_delivery(dropped=dropped)

    def _from_worker(self, result: DeliveryResult) -> None:
        """Called on a destination's thread: the outcome crosses to the loop's thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(self._record, result)

    def _record(self, result: DeliveryResult) -> None:
        if result.ok:
            self._board.record_delivery(delivered=1)
            logger.info(
                "alert {!r} delivered to {} ({} attempts)",
                result.alert.headline,
                result.destination,
                result.attempts,
            )
        else:
            self._board.record_delivery(failed=1)
            logger.error(
                "alert {!r} not delivered to {} after {} attempts: {}",
                result.alert.headline,
                result.destination,
                result.attempts,
                result.error,
            )

    async def _daily(self) -> None:
        at = self._settings.daily_summary_at
        while True:
            now = self._engine.clock.now()
            due = next_summary_at(now, at)
            await asyncio.sleep((due - now).total_seconds())
            try:
                title, detail = await daily_summary(self._engine, self._board, due)
            except Exception:
                logger.opt(exception=True).error("daily summary could not be built")
                continue
            self._board.raise_alert(AlertLevel.INFO, AlertKind.DAILY_SUMMARY, title, detail)


def _stop_all(destinations: list[Destination], grace_s: float) -> None:
    """Let every destination send what it holds within one shared grace period."""
    deadline = time.monotonic() + grace_s
    for destination in destinations:
        destination.close()
    for destination in destinations:
        if not destination.join(deadline - time.monotonic()):
            logger.warning("alerts to {} still pending at shutdown: given up", destination.name)
        destination.abandon()
