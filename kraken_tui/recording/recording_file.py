"""The recording format: one JSON object per line, the header first.

- `{"kind": "header", "format": "kraken-tui-recording", "version": 1, "mode", "started",
  "symbols", "book_depth"}`
- `{"kind": "ws", "t", "feed": "public"|"private", "message": {...}}`: a WebSocket v2
  message as the SDK delivered it (numbers stay JSON numbers, as Kraken sent them)
- `{"kind": "rest", "t", "method", "params", "envelope": {"error": [...], "result": ...}}`

`t` is seconds since the recording started. Secrets never reach the file: see `redaction`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT_NAME = "kraken-tui-recording"
FORMAT_VERSION = 1


class RecordingError(ValueError):
    """The file is not a recording this version can read; the message says where."""


@dataclass(frozen=True, slots=True)
class RecordingHeader:
    mode: str
    started: str
    symbols: tuple[str, ...]
    book_depth: int

    def as_line(self) -> dict[str, Any]:
        return {
            "kind": "header",
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "mode": self.mode,
            "started": self.started,
            "symbols": list(self.symbols),
            "book_depth": self.book_depth,
        }


@dataclass(frozen=True, slots=True)
class WsEntry:
    t: float
    feed: str
    message: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RestEntry:
    t: float
    method: str
    params: Mapping[str, Any]
    envelope: Mapping[str, Any]


Entry = WsEntry | RestEntry


@dataclass(frozen=True, slots=True)
class Recording:
    header: RecordingHeader
    entries: tuple[Entry, ...]


def read_recording(path: Path) -> Recording:
    lines = _lines(path)
    try:
        first = next(lines)
    except StopIteration:
        raise RecordingError(f"{path}: empty file") from None
    header = _header(path, first)
    return Recording(header, tuple(_entry(path, number, line) for number, line in lines))


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise RecordingError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(value, dict):
                raise RecordingError(f"{path}:{number}: not a JSON object")
            yield number, value


def _header(path: Path, first: tuple[int, dict[str, Any]]) -> RecordingHeader:
    _, line = first
    if line.get("kind") != "header" or line.get("format") != FORMAT_NAME:
        raise RecordingError(f"{path}: no {FORMAT_NAME} header on the first line")
    if line.get("version") != FORMAT_VERSION:
        raise RecordingError(f"{path}: format version {line.get('version')!r} is not supported")
    return RecordingHeader(
        mode=str(line.get("mode", "")),
        started=str(line.get("started", "")),
        symbols=tuple(str(s) for s in line.get("symbols", ())),
        book_depth=int(line.get("book_depth", 10)),
    )


def _entry(path: Path, number: int, line: Mapping[str, Any]) -> Entry:
    try:
        if line["kind"] == "ws":
            return WsEntry(float(line["t"]), str(line["feed"]), dict(line["message"]))
        if line["kind"] == "rest":
            return RestEntry(
                float(line["t"]), str(line["method"]), dict(line["params"]), line["envelope"]
            )
    except (KeyError, TypeError, ValueError) as exc:
        kind = line.get("kind")
        raise RecordingError(f"{path}:{number}: malformed {kind} line ({exc})") from None
    raise RecordingError(f"{path}:{number}: unknown kind {line.get('kind')!r}")
