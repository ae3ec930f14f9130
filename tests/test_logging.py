"""Log sinks: redaction on every sink, rotation, the UI buffer and CRITICAL alert hooks."""

from __future__ import annotations

import gzip
import json
import logging as stdlib_logging
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from loguru import logger
from pydantic import ValidationError

from kraken_tui.logging import REDACTED, LogBuffer, LogHandles, LogLine, configure_logging
from kraken_tui.settings import LoggingSettings

API_KEY = "AKEY-7c1e93b0d2f4"
API_SECRET = "U2VjcmV0LVNlY3JldC1TZWNyZXQ="

Configure = Callable[..., LogHandles]


@pytest.fixture
def configure(tmp_path: Path) -> Iterator[Configure]:
    """``configure_logging`` into ``tmp_path``; loguru and stdlib logging restored after."""
    handles: list[LogHandles] = []
    root_handlers = stdlib_logging.getLogger().handlers[:]

    def configure_into_tmp(headless: bool = True, **fields: object) -> LogHandles:
        settings = LoggingSettings(dir=tmp_path / "logs", **fields)
        handles.append(configure_logging(settings, headless, secrets=[API_KEY, API_SECRET]))
        return handles[-1]

    yield configure_into_tmp
    for handle in handles:
        handle.close()
    logger.configure(patcher=None)
    logger.add(sys.stderr)
    stdlib_logging.basicConfig(handlers=root_handlers, force=True)


def log_secrets_every_way() -> None:
    logger.info("signing with key {} and secret {}", API_KEY, API_SECRET)
    logger.bind(api_key=API_KEY, header={"API-Key": API_KEY}).warning("request headers bound")
    try:
        raise RuntimeError(f"auth failed for {API_KEY}")
    except RuntimeError:
        logger.exception("private call failed")
    stdlib_logging.getLogger("kraken.spot").error("sdk says: bad secret %s", API_SECRET)
    logger.critical("kill switch fired; key {}", API_KEY)


@pytest.mark.parametrize("console_format", ["plain", "json"])
def test_no_sink_ever_receives_the_api_key_or_secret(
    configure: Configure, capsys: pytest.CaptureFixture[str], console_format: str
) -> None:
    handles = configure(level="DEBUG", console_format=console_format)
    alerts: list[LogLine] = []
    handles.add_alert_hook(alerts.append)

    log_secrets_every_way()
    handles.close()  # drains the enqueued file sink

    file_text = handles.file_path.read_text()
    console_text = capsys.readouterr().err
    buffer_text = "\n".join(line.text for line in handles.buffer.since(0))
    alert_text = "\n".join(line.text for line in alerts)
    for sink_name, text in [
        ("file", file_text),
        ("console", console_text),
        ("buffer", buffer_text),
        ("alerts", alert_text),
    ]:
        assert API_KEY not in text, sink_name
        assert API_SECRET not in text, sink_name
        assert REDACTED in text, sink_name
    assert "sdk says: bad secret" in file_text  # stdlib logging reached loguru
    assert "private call failed" in file_text and "RuntimeError" in file_text


def test_secrets_added_after_start_are_redacted(configure: Configure) -> None:
    handles = configure()
    handles.add_secret("ws-token-abc123")
    logger.info("subscribed with token ws-token-abc123")
    assert handles.buffer.since(0)[-1].message == f"subscribed with token {REDACTED}"


def test_json_console_lines_are_one_object_each(
    configure: Configure, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(console_format="json")
    logger.bind(symbol="BTC/USD").info("book resynced")
    logger.warning("second")
    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["message"] for r in records] == ["book resynced", "second"]
    assert records[0]["extra"] == {"symbol": "BTC/USD"}
    assert records[1]["level"] == "WARNING"


def test_console_sink_exists_only_headless(
    configure: Configure, capsys: pytest.CaptureFixture[str]
) -> None:
    handles = configure(headless=False)
    logger.info("only in file and buffer")
    assert capsys.readouterr().err == ""
    assert handles.buffer.since(0)[-1].message == "only in file and buffer"


def test_level_setting_filters_every_sink(
    configure: Configure, capsys: pytest.CaptureFixture[str]
) -> None:
    handles = configure(level="WARNING")
    logger.info("too chatty")
    logger.warning("kept")
    assert [line.message for line in handles.buffer.since(0)] == ["kept"]
    assert "too chatty" not in capsys.readouterr().err


def test_file_rotates_by_size_keeping_retention_compressed(configure: Configure) -> None:
    handles = configure(rotation="2 KB", retention=2, compression="gz", headless=False)
    for index in range(400):
        logger.info("filler line {:04d} {}", index, "x" * 60)
    handles.close()
    rotated = sorted(handles.file_path.parent.glob("kraken_tui.*.log.gz"))
    assert len(rotated) == 2
    assert handles.file_path.stat().st_size <= 2048 + 200
    with gzip.open(rotated[-1], "rt") as archive:
        assert "filler line" in archive.read()


@pytest.mark.parametrize(
    "fields",
    [{"rotation": "weekly-ish"}, {"retention": 0}, {"compression": "rar"}, {"level": "LOUD"}],
)
def test_invalid_logging_settings_are_rejected(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LoggingSettings(**fields)


def test_alert_hooks_get_only_critical_records_until_removed(configure: Configure) -> None:
    handles = configure()
    alerts: list[LogLine] = []
    remove = handles.add_alert_hook(alerts.append)
    logger.error("not an alert")
    logger.critical("daily loss limit breached")
    remove()
    logger.critical("after unsubscribe")
    assert [line.message for line in alerts] == ["daily loss limit breached"]
    assert alerts[0].level == "CRITICAL"


def test_a_failing_alert_hook_does_not_starve_the_others(
    configure: Configure, capsys: pytest.CaptureFixture[str]
) -> None:
    handles = configure(headless=False)

    def broken(_: LogLine) -> None:
        raise RuntimeError("subscriber bug")

    alerts: list[LogLine] = []
    handles.add_alert_hook(broken)
    handles.add_alert_hook(alerts.append)
    logger.critical("drawdown limit breached")
    assert len(alerts) == 1
    assert "subscriber bug" in capsys.readouterr().err


def test_buffer_returns_lines_since_a_sequence_in_order_and_bounded() -> None:
    buffer = LogBuffer(max_lines=100)
    logger.remove()
    sink = logger.add(buffer.write, format="{message}")
    try:
        for index in range(150):
            logger.info("line {}", index)
    finally:
        logger.remove(sink)
        logger.add(sys.stderr)
    assert buffer.last_seq == 150
    kept = buffer.since(0)
    assert len(kept) == 100 and kept[0].seq == 51 and kept[-1].seq == 150
    assert [line.message for line in buffer.since(148)] == ["line 148", "line 149"]
    assert [line.seq for line in buffer.since(120, limit=3)] == [121, 122, 123]
    assert buffer.since(150) == []


def test_buffer_sequence_is_unique_under_concurrent_writers() -> None:
    buffer = LogBuffer(max_lines=10_000)
    logger.remove()
    sink = logger.add(buffer.write, format="{message}")
    try:
        threads = [
            threading.Thread(target=lambda: [logger.info("t") for _ in range(500)])
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        logger.remove(sink)
        logger.add(sys.stderr)
    seqs = [line.seq for line in buffer.since(0)]
    assert seqs == list(range(1, 2001))
