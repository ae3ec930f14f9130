"""The flight recorder's file: Kraken's traffic as sent, secrets removed wherever they show."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kraken_tui.logging import REDACTED
from kraken_tui.recording.recorder import FlightRecorder
from kraken_tui.recording.recording_file import (
    RecordingError,
    RecordingHeader,
    RestEntry,
    WsEntry,
    read_recording,
)

HEADER = RecordingHeader("live", "2026-12-07T00:00:00+00:00", ("BTC/USD",), 10)
KEY = "kEyKeYkEyKeYkEyKeYkEyKeYkEyKeYkEyKeYkEyKeYkEyKeYkEyKeY"
SECRET = "c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHNlY3JldCBzZWNyZXQ+/=="
TOKEN = "WW91IGZvdW5kIHRoZSB0b2tlbiwgd2VsbCBkb25lIQ"


def test_a_token_is_removed_from_its_answer_and_from_any_later_echo(tmp_path: Path) -> None:
    path = tmp_path / "rec" / "session.jsonl"
    recorder = FlightRecorder(path, HEADER, [KEY, SECRET])
    recorder.rest_answer("GetWebSocketsToken", {}, {"error": [], "result": {"token": TOKEN}})
    recorder.ws_message("private", {"method": "subscribe", "error": f"bad token {TOKEN}"})
    recorder.rest_answer("Balance", {"nonce": "17", "otp": "123456"}, {"error": [], "result": {}})
    recorder.ws_message("public", {"channel": "status", "note": f"{KEY} {SECRET}"})
    recorder.close()
    text = path.read_text()
    for secret in (TOKEN, KEY, SECRET, "123456"):
        assert secret not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    recording = read_recording(path)
    assert recording.header == HEADER
    first, echo, balance, status = recording.entries
    assert isinstance(first, RestEntry) and first.envelope["result"]["token"] == REDACTED
    assert isinstance(echo, WsEntry) and echo.message["error"] == f"bad token {REDACTED}"
    assert isinstance(balance, RestEntry) and balance.params == {"nonce": REDACTED, "otp": REDACTED}
    assert isinstance(status, WsEntry) and status.feed == "public"


def test_numbers_keep_their_json_form_so_a_replayed_book_checksums_as_received(
    tmp_path: Path,
) -> None:
    path = tmp_path / "session.jsonl"
    recorder = FlightRecorder(path, HEADER, [])
    book = {"channel": "book", "data": [{"bids": [{"price": 94990.1, "qty": 0.00100000}]}]}
    recorder.ws_message("public", book)
    recorder.close()
    (entry,) = read_recording(path).entries
    assert isinstance(entry, WsEntry) and entry.message == book


def test_a_file_that_is_not_a_recording_is_refused_with_where(tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text(json.dumps({"kind": "ws"}) + "\n")
    with pytest.raises(RecordingError, match="no kraken-tui-recording header"):
        read_recording(path)
