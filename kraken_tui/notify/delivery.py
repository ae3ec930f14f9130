"""Sending alerts through Apprise without ever holding up the engine.

One `Destination` per configured URL, each with its own bounded queue and worker thread: a
dead Telegram cannot delay ntfy, and nothing here runs on the engine's event loop (the
engine's side only calls `offer`, which never blocks). An attempt is bounded by the URL's
timeout (Apprise's connect and read timeouts); a failed attempt is retried after a back-off
that doubles each time. When a destination's queue is full the new alert is dropped and the
drop is reported, so the console and the snapshot show that alerts are being lost.

Apprise logs why an attempt failed (an HTTP status, a refused connection) rather than
raising; a handler on its logger keeps the last such message per thread, and each
destination's thread is its own, so the reason reported is the one of that attempt.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from apprise import NotifyType

from kraken_tui.alerts.alert import Alert, AlertLevel
from kraken_tui.alerts.url_check import apprise_plugin, apprise_problem
from kraken_tui.alerts.url_secrets import masked_alert_url, url_secrets

MAX_BACKOFF_S = 300.0
_NOTIFY_TYPES = {
    AlertLevel.INFO: NotifyType.INFO,
    AlertLevel.WARNING: NotifyType.WARNING,
    AlertLevel.ERROR: NotifyType.FAILURE,
    AlertLevel.CRITICAL: NotifyType.FAILURE,
}


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    timeout_s: float = 10.0
    retries: int = 4
    retry_backoff_s: float = 2.0
    queue_size: int = 100

    def backoff_s(self, failed_attempts: int) -> float:
        """The wait after the `failed_attempts`-th failure: doubling, capped."""
        return min(self.retry_backoff_s * 2 ** (failed_attempts - 1), MAX_BACKOFF_S)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What became of one alert at one destination; `destination` is the masked URL."""

    destination: str
    alert: Alert
    ok: bool
    attempts: int
    error: str = ""


ResultListener = Callable[[DeliveryResult], None]


class _LastFailure(logging.Handler):
    """Keeps, per thread, the last warning Apprise logged: why the attempt failed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        self._local.message = record.getMessage()

    def take(self) -> str:
        message: str = getattr(self._local, "message", "")
        self._local.message = ""
        return message


_last_failure = _LastFailure()
logging.getLogger("apprise").addHandler(_last_failure)


class Destination:
    """One Apprise URL with its queue and worker thread. `send` delivers synchronously with
    the same retries (for `kraken-tui alert test`); `start`, `offer`, then `close`, `join`
    and `abandon` run it in the background."""

    def __init__(self, url: str, policy: DeliveryPolicy, on_result: ResultListener) -> None:
        plugin = apprise_plugin(url)
        if plugin is None:
            raise ValueError(apprise_problem(url) or "unusable alert URL")
        plugin.socket_connect_timeout = policy.timeout_s
        plugin.socket_read_timeout = policy.timeout_s
        self._plugin = plugin
        self._secrets = url_secrets(url)
        self.name = masked_alert_url(url)
        self.policy = policy
        self._on_result = on_result
        self._queue: queue.Queue[Alert] = queue.Queue(policy.queue_size)
        self._closed = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._work, name=f"alerts to {self.name}", daemon=True
        )
        self._thread.start()

    def offer(self, alert: Alert) -> bool:
        """Queue the alert; False (and nothing queued) when the queue is full or closed."""
        if self._closed.is_set():
            return False
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            return False
        return True

    def close(self) -> None:
        """Take no more alerts; the thread ends once the queued ones are out."""
        self._closed.set()

    def join(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the thread to end; True when it has."""
        if self._thread is not None:
            self._thread.join(max(timeout_s, 0.0))
        return self._thread is None or not self._thread.is_alive()

    def abandon(self) -> None:
        """Stop waiting between retries: what is still queued is given up (the thread, a
        daemon, ends with the process or after its last attempt)."""
        self._stopping.set()

    def send(self, alert: Alert) -> DeliveryResult:
        """Deliver now, retrying with back-off; returns the outcome."""
        attempts = 0
        error = ""
        while True:
            attempts += 1
            ok, error = self._attempt(alert)
            if ok:
                return DeliveryResult(self.name, alert, True, attempts)
            if attempts > self.policy.retries or self._stopping.wait(
                self.policy.backoff_s(attempts)
            ):
                return DeliveryResult(self.name, alert, False, attempts, error)

    def _work(self) -> None:
        while True:
            try:
                alert = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._closed.is_set():
                    return
                continue
            result = self.send(alert)
            try:
                self._on_result(result)
            except Exception:  # the listener's bug must not end delivery
                logging.getLogger(__name__).exception("alert result listener failed")

    def _attempt(self, alert: Alert) -> tuple[bool, str]:
        _last_failure.take()
        try:
            ok = bool(
                self._plugin.notify(
                    body=alert.detail or alert.headline,
                    title=alert.headline,
                    notify_type=_NOTIFY_TYPES[alert.level],
                )
            )
        except Exception as exc:  # a plugin bug is one failed attempt, not a dead thread
            return False, self._redacted(f"{type(exc).__name__}: {exc}")
        if ok:
            return True, ""
        return False, self._redacted(_last_failure.take() or "the service refused the alert")

    def _redacted(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text
