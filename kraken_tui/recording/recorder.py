"""`FlightRecorder`: the adapter's traffic sink that writes a recording file.

Writing happens on the event loop, one short line at a time into a buffered file, so the
cost per message is a JSON encoding and a redaction pass; the file is flushed every
`FLUSH_EVERY_S` and on close, so a crash loses at most that much. A write that fails (disk
full) stops the recording with an error in the log; trading goes on.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from loguru import logger

from kraken_tui.private_files import make_private_dir, open_private
from kraken_tui.recording.recording_file import RecordingHeader
from kraken_tui.recording.redaction import TrafficRedactor

FLUSH_EVERY_S = 1.0


class FlightRecorder:
    def __init__(self, path: Path, header: RecordingHeader, secrets: Iterable[str]) -> None:
        """Creates `path` (0600, in a private directory), replacing an older file."""
        make_private_dir(path.parent)
        self.path = path
        self._file: IO[str] | None = open(  # noqa: SIM115 - closed by close()
            path, "w", encoding="utf-8", opener=open_private
        )
        self._redactor = TrafficRedactor(secrets)
        self._started = time.monotonic()
        self._flushed = self._started
        self.lines_written = 0
        self._write(header.as_line())

    @property
    def recording(self) -> bool:
        return self._file is not None

    def ws_message(self, feed: str, message: Mapping[str, Any]) -> None:
        self._write({"kind": "ws", "t": self._elapsed(), "feed": feed, "message": message})

    def rest_answer(
        self, method: str, params: Mapping[str, Any], envelope: Mapping[str, Any]
    ) -> None:
        if method == "GetWebSocketsToken":
            self._redactor.learn_token(envelope)
        line = {
            "kind": "rest",
            "t": self._elapsed(),
            "method": method,
            "params": params,
            "envelope": envelope,
        }
        self._write(line)

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()
            logger.info("flight recorder: {} lines in {}", self.lines_written, self.path)

    def _elapsed(self) -> float:
        return round(time.monotonic() - self._started, 6)

    def _write(self, line: Mapping[str, Any]) -> None:
        if self._file is None:
            return
        try:
            text = json.dumps(self._redactor.scrub(line), separators=(",", ":"), default=str)
            self._file.write(self._redactor.redact_text(text) + "\n")
            self.lines_written += 1
            now = time.monotonic()
            if now - self._flushed >= FLUSH_EVERY_S:
                self._file.flush()
                self._flushed = now
        except (OSError, TypeError, ValueError) as exc:
            logger.error("flight recorder stopped: cannot write {}: {}", self.path, exc)
            file, self._file = self._file, None
            with contextlib.suppress(OSError):
                file.close()
