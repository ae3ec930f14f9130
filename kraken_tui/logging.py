"""Log sinks (rotating file, headless console, in-memory buffer for the UI) and redaction.

Every record passes one loguru patcher that redacts secrets in the message, the ``extra``
values and the exception text before any sink formats it, so no sink (file, console, the UI
panel and the Redis log stream it feeds) can leak them. Two kinds of secret are
removed:

- values we know: the configured credentials, and secrets learned at run time through
  ``register_secret`` (the WebSocket token), in their plain and URL-encoded forms;
- values we do not know but recognize by their field name: ``token``, ``API-Key``,
  ``API-Sign``, ``Authorization`` and similar in dict reprs, JSON, headers and query strings.
  python-kraken-sdk logs its WebSocket token that way (``{'token': '...', 'expires': 900}``).

A traceback is rendered to text in the patcher, chained causes included, and redacted like
the message; sinks then print that text instead of formatting the exception themselves, so
neither a secret in a ``__cause__`` nor loguru's ``diagnose`` variable dump can reach them.
Records from the stdlib ``logging`` module (the Kraken SDK, aiohttp, aiosqlite, websockets)
are routed through loguru and therefore through the same patcher; those libraries are
capped at ``third_party_level`` because their DEBUG output drowns ours.

Log files (rotated and compressed ones too) are created 0600 in a 0700 directory.
"""

from __future__ import annotations

import bz2
import logging as stdlib_logging
import lzma
import re
import shutil
import sys
import tarfile
import threading
import traceback
import zipfile
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from gzip import GzipFile
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import orjson
from loguru import logger

from kraken_tui.private_files import make_private_dir, open_private

if TYPE_CHECKING:
    from loguru import Message, Record

    from kraken_tui.settings import LoggingSettings

LOG_FILE_NAME = "kraken_tui.log"
REDACTED = "***REDACTED***"
MAX_UI_BUFFER_LINES = 100_000
"""Ceiling of the UI log ring: the panel shows recent lines, it is not a second log file."""
THIRD_PARTY_LOGGERS = ("kraken", "aiosqlite", "websockets", "aiohttp", "asyncio", "apprise")
"""Stdlib loggers of the libraries we use, capped at ``LoggingSettings.third_party_level``."""
_PLAIN_FORMAT = (
    "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}"
)
MAX_LEARNED_SECRETS = 32
"""Secrets registered at run time that stay redacted by value. They are WebSocket tokens, one
per connection, so one 32 connections old has long expired; and each one kept costs time on
every record (about 1 us each). Token fields stay redacted by name whatever their age."""
_TRACEBACK_KEY = "_traceback"
"""``extra`` key holding the redacted traceback text the patcher rendered."""

_SECRET_FIELD_NAMES = (
    r"(?:ws[-_]?)?token|api[-_]?(?:key|sign|secret)|secret|password|passwd|otp|authorization"
)
_HEADER_NAMES = r"api-key|api-sign|authorization"
_SECRET_FIELD = re.compile(
    # The field name: quoted (dict repr, JSON, escaped JSON inside a string) with ':' or '=';
    # bare with '=' (keyword reprs, query strings, form bodies); or an HTTP header name.
    r"(?P<key>(?P<key_quote>\\?[\"'])(?:" + _SECRET_FIELD_NAMES + r")(?P=key_quote)\s*[:=]\s*"
    r"|(?<![a-z0-9])(?:" + _SECRET_FIELD_NAMES + r")\s*=\s*"
    r"|(?<![a-z0-9])(?:" + _HEADER_NAMES + r")\s*:\s*)"
    # The value: quoted (maybe cut short by a truncating logger), or bare up to a delimiter;
    # a bare None/null stays, as it tells that no token was there.
    r"(?:(?P<value_quote>\\?[\"'])(?P<quoted>[^\"'\\\n]*)(?P<end_quote>(?P=value_quote))?"
    r"|(?P<scheme>(?:bearer|basic)\s+)?(?!(?:none|null)\b)(?P<bare>[^\s\"',;&(){}\[\]]+))",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One record as the UI log panel and remote viewers (through the engine's
    ``log_lines_since``) need it: the message without its traceback, which only the file and
    console sinks print."""

    seq: int
    ts: datetime
    level: str
    source: str
    message: str


class LogBuffer:
    """Bounded, thread-safe ring of recent lines with a monotonically increasing ``seq``.

    The UI polls ``since(last_seq)`` on its frame timer and writes the batch in one call,
    instead of receiving a widget update per record. The ring never exceeds
    ``MAX_UI_BUFFER_LINES``, whoever constructs it: it lives in memory for the whole run.
    """

    def __init__(self, max_lines: int) -> None:
        if not 1 <= max_lines <= MAX_UI_BUFFER_LINES:
            raise ValueError(
                f"a log buffer holds 1 to {MAX_UI_BUFFER_LINES} lines, not {max_lines}"
            )
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
                )
            )


class Redactor:
    """Removes secrets from log records; secrets learned later can be added at any time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._configured: frozenset[str] = frozenset()
        self._learned: deque[str] = deque(maxlen=MAX_LEARNED_SECRETS)
        self._known: re.Pattern[str] | None = None

    def add(self, secret: str) -> None:
        """Redact a configured secret for the rest of the process (empty values are ignored)."""
        with self._lock:
            if secret and secret not in self._configured:
                self._configured |= {secret}
                self._compile()

    def learn(self, secret: str) -> None:
        """Redact a secret learned at run time; only the latest ``MAX_LEARNED_SECRETS`` are
        kept by value (empty values are ignored)."""
        with self._lock:
            if secret and secret not in self._learned and secret not in self._configured:
                self._learned.append(secret)
                self._compile()

    def _compile(self) -> None:
        forms = {
            form for value in (*self._configured, *self._learned) for form in _written_forms(value)
        }
        # Longest first, so a secret containing another is replaced whole.
        alternatives = sorted(forms, key=len, reverse=True)
        self._known = re.compile("|".join(re.escape(form) for form in alternatives))

    def redact(self, text: str) -> str:
        """``text`` without any registered secret or recognizable secret field value."""
        known = self._known
        if known is not None:
            text = known.sub(REDACTED, text)
        return _SECRET_FIELD.sub(_redacted_field, text)

    def patch(self, record: Record) -> None:
        """Loguru patcher: runs once per record before any sink sees it."""
        record["message"] = self.redact(record["message"])
        extra = record["extra"]
        for key, value in extra.items():
            text = value if isinstance(value, str) else repr(value)
            redacted = self.redact(text)
            if redacted != text:
                extra[key] = redacted
        exception = record["exception"]
        if exception is not None:
            rendered = traceback.format_exception(
                exception.type, exception.value, exception.traceback
            )
            extra[_TRACEBACK_KEY] = self.redact("".join(rendered).rstrip("\n"))
            record["exception"] = None


def _written_forms(secret: str) -> set[str]:
    """How a secret can appear in a log line: as is, URL-encoded (a base64 secret's ``+``,
    ``/`` and ``=`` become ``%2B``, ``%2F``, ``%3D``, in either letter case, or ``+`` for a
    space with ``quote_plus``) and JSON with escaped slashes."""
    forms = {
        secret,
        secret.replace("/", "\\/"),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        quote_plus(secret, safe="/"),
    }
    return forms | {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in forms}


def _redacted_field(match: re.Match[str]) -> str:
    """The secret field with its name and quoting kept and only its value replaced."""
    if match["bare"] is not None:
        return f"{match['key']}{match['scheme'] or ''}{REDACTED}"
    if not match["quoted"]:
        return match.group()
    return f"{match['key']}{match['value_quote']}{REDACTED}{match['end_quote'] or ''}"


_redactor = Redactor()
"""The one redactor of the process, like loguru's one logger it patches."""


def register_secret(secret: str) -> None:
    """Redact ``secret`` from every log sink from now on.

    For secrets learned at run time, such as the WebSocket token from GetWebSocketsToken:
    call it before the value could be logged. Safe from any thread, and before or without
    ``configure_logging`` (the value is kept for when it runs).
    """
    _redactor.learn(secret)


@dataclass
class LogHandles:
    """What ``configure_logging`` set up; keep it for the process lifetime."""

    buffer: LogBuffer
    file_path: Path
    _sink_ids: list[int] = field(default_factory=list)

    def close(self) -> None:
        """Flush the queued file sink and detach every sink this module added."""
        for sink_id in self._sink_ids:
            logger.remove(sink_id)
        self._sink_ids.clear()


def configure_logging(
    settings: LoggingSettings, headless: bool, secrets: Iterable[str] = ()
) -> LogHandles:
    """Replace loguru's default sink with ours and route stdlib logging into loguru."""
    logger.remove()
    for secret in secrets:
        _redactor.add(secret)
    logger.configure(patcher=_redactor.patch)
    make_private_dir(settings.dir)
    handles = LogHandles(
        buffer=LogBuffer(settings.ui_buffer_lines),
        file_path=settings.dir / LOG_FILE_NAME,
    )
    # diagnose=True would print the values of local variables, secrets included; tracebacks
    # arrive already rendered by the patcher, so neither option has anything left to do.
    common: dict[str, Any] = {
        "level": settings.level,
        "format": _format_with_traceback,
        "backtrace": False,
        "diagnose": False,
    }
    handles._sink_ids.append(
        logger.add(
            handles.file_path,
            rotation=settings.rotation,
            retention=settings.retention,
            compression=_private_compression(settings.compression),
            enqueue=True,
            encoding="utf-8",
            opener=open_private,
            **common,
        )
    )
    handles._sink_ids.append(logger.add(handles.buffer.write, **common))
    if headless:
        console = _json_console_sink if settings.console_format == "json" else _plain_console_sink
        handles._sink_ids.append(logger.add(console, **common))
    # The root level matches ours so libraries do not build records loguru would drop.
    stdlib_logging.basicConfig(handlers=[_InterceptHandler()], level=settings.level, force=True)
    levels = stdlib_logging.getLevelNamesMapping()
    library_level = max(levels[settings.level], levels[settings.third_party_level])
    for name in THIRD_PARTY_LOGGERS:
        stdlib_logging.getLogger(name).setLevel(library_level)
    return handles


def _format_with_traceback(record: Record) -> str:
    """Loguru format callable: our line, then the traceback text the patcher redacted."""
    if _TRACEBACK_KEY in record["extra"]:
        return _PLAIN_FORMAT + "\n{extra[" + _TRACEBACK_KEY + "]}\n"
    return _PLAIN_FORMAT + "\n"


Compressor = Callable[[Path, IO[bytes]], None]


def _gzip(source: Path, out: IO[bytes]) -> None:
    with source.open("rb") as plain, GzipFile(filename=source.name, mode="wb", fileobj=out) as gz:
        shutil.copyfileobj(plain, gz)


def _bzip2(source: Path, out: IO[bytes]) -> None:
    with source.open("rb") as plain, bz2.BZ2File(out, "wb") as compressed:
        shutil.copyfileobj(plain, compressed)


def _xz(source: Path, out: IO[bytes]) -> None:
    with source.open("rb") as plain, lzma.LZMAFile(out, "wb", format=lzma.FORMAT_XZ) as xz:
        shutil.copyfileobj(plain, xz)


def _zip(source: Path, out: IO[bytes]) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(source, source.name)


def _tar_gz(source: Path, out: IO[bytes]) -> None:
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        archive.add(source, source.name)


_COMPRESSORS: dict[str, Compressor] = {
    "gz": _gzip,
    "bz2": _bzip2,
    "xz": _xz,
    "zip": _zip,
    "tar.gz": _tar_gz,
}


def _private_compression(extension: str) -> Callable[[str], None] | None:
    """Loguru compression callable writing the archive as a 0600 file.

    Loguru's built-in compression creates archives with the umask's mode (usually 0644).
    The archive is named like loguru's own (``<rotated file>.<extension>``), so retention
    still finds it; an existing archive of that name is never overwritten.
    """
    if extension == "none":
        return None
    compressor = _COMPRESSORS[extension]

    def compress(rotated: str) -> None:
        source = Path(rotated)
        with open(f"{rotated}.{extension}", "xb", opener=open_private) as archive:
            compressor(source, archive)
        source.unlink()

    return compress


def _plain_console_sink(message: Message) -> None:
    # Looked up per call so a redirected or captured stderr is honoured.
    sys.stderr.write(str(message))
    sys.stderr.flush()


def _json_console_sink(message: Message) -> None:
    record = message.record
    extra = dict(record["extra"])
    traceback_text = extra.pop(_TRACEBACK_KEY, None)
    line: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "source": record["name"],
        "function": record["function"],
        "line": record["line"],
        "message": record["message"],
    }
    if extra:
        line["extra"] = {key: str(value) for key, value in extra.items()}
    if traceback_text is not None:
        line["exception"] = traceback_text
    sys.stderr.write(orjson.dumps(line).decode() + "\n")
    sys.stderr.flush()


class _InterceptHandler(stdlib_logging.Handler):
    """Forwards stdlib records to loguru, keeping their level and call site."""

    def emit(self, record: stdlib_logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame: FrameType | None = stdlib_logging.currentframe()
        depth = 0
        while frame is not None and (
            depth == 0 or frame.f_code.co_filename == stdlib_logging.__file__
        ):
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())
