"""Log sinks (rotating file, headless console, in-memory buffer for the UI) and redaction.

Every record passes one loguru patcher that replaces registered secrets in the message,
the ``extra`` values and exception texts before any sink formats it, so no sink can leak
the API key or secret. Tracebacks are written without variable values (``diagnose=False``)
for the same reason. Records from the stdlib ``logging`` module (the Kraken SDK, aiohttp)
are routed through loguru and therefore through the same patcher.
"""

from __future__ import annotations

import logging as stdlib_logging
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from loguru import logger

if TYPE_CHECKING:
    from loguru import Message, Record

    from kraken_tui.settings import LoggingSettings

LOG_FILE_NAME = "kraken_tui.log"
REDACTED = "***REDACTED***"
_PLAIN_FORMAT = (
    "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}"
)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One record as the UI log panel and remote viewers need it.

    Field names match ``kraken_tui.engine.api.LogLine``; ``text`` adds the fully formatted
    line, including a traceback when the record carried one.
    """

    seq: int
    ts: datetime
    level: str
    source: str
    message: str
    text: str


AlertHook = Callable[[LogLine], None]


class LogBuffer:
    """Bounded, thread-safe ring of recent lines with a monotonically increasing ``seq``.

    The UI polls ``since(last_seq)`` on its frame timer and writes the batch in one call,
    instead of receiving a widget update per record.
    """

    def __init__(self, max_lines: int) -> None:
        self._lines: deque[LogLine] = deque(maxlen=max_lines)
        self._lock = threading.Lock()
        self._last_seq = 0

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest line (0 when nothing was logged)."""
        with self._lock:
            return self._last_seq

    def since(self, seq: int, limit: int | None = None) -> list[LogLine]:
        """Lines newer than ``seq``, oldest first, at most ``limit`` of the oldest ones.

        Lines evicted from the ring are gone; a reader that fell behind gets what is left.
        """
        with self._lock:
            newer = [line for line in self._lines if line.seq > seq]
        return newer if limit is None else newer[:limit]

    def write(self, message: Message) -> None:
        """Loguru sink entry point."""
        record = message.record
        with self._lock:
            self._last_seq += 1
            self._lines.append(
                LogLine(
                    seq=self._last_seq,
                    ts=record["time"],
                    level=record["level"].name,
                    source=record["name"] or "",
                    message=record["message"],
                    text=str(message).rstrip("\n"),
                )
            )


class Redactor:
    """Replaces registered secret values in log records; new secrets can be added live."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Register a value that must never reach a sink (empty values are ignored)."""
        if secret and secret not in self._secrets:
            # Longest first, so a secret containing another is replaced whole.
            self._secrets = tuple(sorted((*self._secrets, secret), key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def patch(self, record: Record) -> None:
        """Loguru patcher: runs once per record before any sink sees it."""
        if not self._secrets:
            return
        record["message"] = self.redact(record["message"])
        for key, value in record["extra"].items():
            text = value if isinstance(value, str) else repr(value)
            redacted = self.redact(text)
            if redacted != text:
                record["extra"][key] = redacted
        exception = record["exception"]
        if exception is not None and exception.value is not None:
            text = f"{type(exception.value).__name__}: {exception.value}"
            redacted = self.redact(text)
            if redacted != text:
                record["exception"] = exception._replace(
                    type=RedactedError, value=RedactedError(redacted)
                )


class RedactedError(Exception):
    """Stands in for an exception whose text contained a secret."""


@dataclass
class LogHandles:
    """What ``configure_logging`` set up; keep it for the process lifetime."""

    buffer: LogBuffer
    redactor: Redactor
    file_path: Path
    _sink_ids: list[int] = field(default_factory=list)
    _alert_hooks: list[AlertHook] = field(default_factory=list)
    _hooks_lock: threading.Lock = field(default_factory=threading.Lock)

    def add_alert_hook(self, hook: AlertHook) -> Callable[[], None]:
        """Call ``hook`` for every CRITICAL record; returns a function that unsubscribes.

        The hook runs in the thread that logged, so it must be quick and thread-safe
        (an asyncio consumer should hand over with ``loop.call_soon_threadsafe``).
        """
        with self._hooks_lock:
            self._alert_hooks.append(hook)

        def remove() -> None:
            with self._hooks_lock:
                if hook in self._alert_hooks:
                    self._alert_hooks.remove(hook)

        return remove

    def add_secret(self, secret: str) -> None:
        """Redact a secret learned after start-up (e.g. a WebSocket token)."""
        self.redactor.add(secret)

    def close(self) -> None:
        """Flush the queued file sink and detach every sink this module added."""
        for sink_id in self._sink_ids:
            logger.remove(sink_id)
        self._sink_ids.clear()

    def _fire_alerts(self, message: Message) -> None:
        record = message.record
        line = LogLine(
            seq=0,
            ts=record["time"],
            level=record["level"].name,
            source=record["name"] or "",
            message=record["message"],
            text=str(message).rstrip("\n"),
        )
        with self._hooks_lock:
            hooks = list(self._alert_hooks)
        for hook in hooks:
            try:
                hook(line)
            except Exception as error:  # a faulty subscriber must not silence the others
                sys.stderr.write(f"alert hook {hook!r} failed: {error!r}\n")


def configure_logging(
    settings: LoggingSettings, headless: bool, secrets: Iterable[str] = ()
) -> LogHandles:
    """Replace loguru's default sink with ours and route stdlib logging into loguru."""
    logger.remove()
    redactor = Redactor(secrets)
    logger.configure(patcher=redactor.patch)
    settings.dir.mkdir(parents=True, exist_ok=True)
    handles = LogHandles(
        buffer=LogBuffer(settings.ui_buffer_lines),
        redactor=redactor,
        file_path=settings.dir / LOG_FILE_NAME,
    )
    common: dict[str, Any] = {"level": settings.level, "backtrace": False, "diagnose": False}
    handles._sink_ids.append(
        logger.add(
            handles.file_path,
            format=_PLAIN_FORMAT,
            rotation=settings.rotation,
            retention=settings.retention,
            compression=None if settings.compression == "none" else settings.compression,
            enqueue=True,
            encoding="utf-8",
            **common,
        )
    )
    handles._sink_ids.append(logger.add(handles.buffer.write, format=_PLAIN_FORMAT, **common))
    if headless:
        console = _json_console_sink if settings.console_format == "json" else _plain_console_sink
        handles._sink_ids.append(logger.add(console, format=_PLAIN_FORMAT, **common))
    handles._sink_ids.append(
        logger.add(
            handles._fire_alerts,
            format=_PLAIN_FORMAT,
            level="CRITICAL",
            backtrace=False,
            diagnose=False,
        )
    )
    # The root level matches ours so libraries do not build records loguru would drop.
    stdlib_logging.basicConfig(handlers=[_InterceptHandler()], level=settings.level, force=True)
    return handles


def _plain_console_sink(message: Message) -> None:
    # Looked up per call so a redirected or captured stderr is honoured.
    sys.stderr.write(str(message))
    sys.stderr.flush()


def _json_console_sink(message: Message) -> None:
    record = message.record
    line: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "source": record["name"],
        "function": record["function"],
        "line": record["line"],
        "message": record["message"],
    }
    if record["extra"]:
        line["extra"] = {key: str(value) for key, value in record["extra"].items()}
    if record["exception"] is not None:
        line["exception"] = str(message).split("\n", 1)[1].rstrip("\n")
    sys.stderr.write(orjson.dumps(line).decode() + "\n")
    sys.stderr.flush()


class _InterceptHandler(stdlib_logging.Handler):
    """Forwards stdlib records to loguru, keeping their level and call site."""

    def emit(self, record: stdlib_logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = stdlib_logging.currentframe(), 0
        while frame is not None and (
            depth == 0 or frame.f_code.co_filename == stdlib_logging.__file__
        ):
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())
