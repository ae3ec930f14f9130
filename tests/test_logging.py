"""Log sinks: redaction on every sink, rotation, private files, the UI buffer; third-party
loggers capped."""

from __future__ import annotations

import gzip
import json
import logging as stdlib_logging
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from loguru import logger
from pydantic import ValidationError

from kraken_tui.logging import (
    MAX_LEARNED_SECRETS,
    MAX_UI_BUFFER_LINES,
    REDACTED,
    THIRD_PARTY_LOGGERS,
    LogBuffer,
    LogHandles,
    configure_logging,
    register_secret,
)
from kraken_tui.settings import LoggingSettings

API_KEY = "AKEY-7c1e93b0d2f4"
API_SECRET = "U2VjcmV0LVNlY3JldC1TZWNyZXQ="
# Shaped like the sandbox's tokens (base64 of 30 random bytes), with the '+' and '/' that
# URL encoding rewrites.
WS_TOKEN = "Kqr+DgAdwk33Tic2LGt6eCiWt/f5eS9tfbQvX8IK"

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
    for name in THIRD_PARTY_LOGGERS:
        stdlib_logging.getLogger(name).setLevel(stdlib_logging.NOTSET)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default umask, under which files were world-readable before the fix."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def every_sink_text(handles: LogHandles, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """What each sink received, by name; closes the handles to drain the file sink."""
    handles.close()
    return {
        "file": handles.file_path.read_text(),
        "console": capsys.readouterr().err,
        "buffer": "\n".join(line.message for line in handles.buffer.since(0)),
    }


TRACEBACK_SINKS = ("file", "console")
"""The sinks that print a record's traceback; the buffer keeps only the message."""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


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

    log_secrets_every_way()
    texts = every_sink_text(handles, capsys)

    for sink_name, text in texts.items():
        assert API_KEY not in text, sink_name
        assert API_SECRET not in text, sink_name
        assert REDACTED in text, sink_name
    file_text = texts["file"]
    assert "sdk says: bad secret" in file_text  # stdlib logging reached loguru
    assert "private call failed" in file_text and "RuntimeError" in file_text


def test_secrets_registered_after_start_are_redacted(configure: Configure) -> None:
    handles = configure()
    register_secret("ws-token-abc123")
    logger.info("subscribed with ws-token-abc123")
    assert handles.buffer.since(0)[-1].message == f"subscribed with {REDACTED}"


def test_the_latest_registered_secrets_and_every_configured_one_stay_redacted(
    configure: Configure,
) -> None:
    handles = configure()
    tokens = [f"ws-token-{index:03d}-9f3a" for index in range(MAX_LEARNED_SECRETS + 8)]
    for token in tokens:
        register_secret(token)
    recent = tokens[-MAX_LEARNED_SECRETS:]
    logger.info("tokens {} key {} secret {}", " ".join(recent), API_KEY, API_SECRET)
    assert handles.buffer.since(0)[-1].message == " ".join(
        ["tokens", *[REDACTED] * MAX_LEARNED_SECRETS, "key", REDACTED, "secret", REDACTED]
    )


@pytest.mark.parametrize("console_format", ["plain", "json"])
def test_the_sdk_websocket_token_line_is_redacted_in_every_sink(
    configure: Configure, capsys: pytest.CaptureFixture[str], console_format: str
) -> None:
    handles = configure(level="DEBUG", third_party_level="DEBUG", console_format=console_format)
    sdk = stdlib_logging.getLogger("kraken.spot.websocket.connectors")
    # python-kraken-sdk 3.5's exact call, with the GetWebSocketsToken result as argument.
    sdk.debug("Websocket token: %s", {"token": WS_TOKEN, "expires": 900})
    subscribe = {"method": "subscribe", "params": {"channel": "executions", "token": WS_TOKEN}}
    logger.critical("sent {}", json.dumps(subscribe, separators=(",", ":")))
    for sink, text in every_sink_text(handles, capsys).items():
        assert WS_TOKEN not in text, sink
        assert REDACTED in text, sink
    file_text = handles.file_path.read_text()
    assert f"Websocket token: {{'token': '{REDACTED}', 'expires': 900}}" in file_text
    assert f'"channel":"executions","token":"{REDACTED}"' in file_text


@pytest.mark.parametrize(
    "line",
    [
        "headers {'API-Key': 'AKEY-unknown-1', 'API-Sign': 'c2lnbmF0dXJl/+=='}",
        "API-Key: AKEY-unknown-1\r\nAPI-Sign: c2lnbmF0dXJl/+==",
        "Authorization: Bearer c2lnbmF0dXJl/+==",
        "GET /private?token=c2lnbmF0dXJl%2F%2B%3D%3D&pair=XBTUSD",
        "WsToken(token='c2lnbmF0dXJl/+==', expires=900)",
        '"{\\"token\\": \\"c2lnbmF0dXJl/+==\\"}"',
        '> TEXT \'{"method":"subscribe","params":{"token":"c2lnbmF0dX...\' [140 bytes]',
    ],
)
def test_unregistered_secrets_are_redacted_by_their_field_name(
    configure: Configure, line: str
) -> None:
    handles = configure()
    logger.info(line)
    message = handles.buffer.since(0)[-1].message
    assert REDACTED in message
    assert "AKEY-unknown-1" not in message and "c2lnbmF0dX" not in message


def test_fields_that_hold_no_secret_are_left_readable(configure: Configure) -> None:
    handles = configure()
    for line in ["Websocket token: None", "token_source=<bound method>", "invalid token: x"]:
        logger.info(line)
    assert [line.message for line in handles.buffer.since(0)] == [
        "Websocket token: None",
        "token_source=<bound method>",
        "invalid token: x",
    ]


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: quote(s, safe=""),
        quote,
        quote_plus,
        lambda s: quote(s, safe="").replace("%2B", "%2b").replace("%2F", "%2f"),
        lambda s: s.replace("/", "\\/"),
    ],
    ids=["quote-nothing-safe", "quote", "quote_plus", "lowercase-hex", "json-escaped-slash"],
)
def test_url_and_json_encoded_forms_of_a_secret_are_redacted(
    configure: Configure, capsys: pytest.CaptureFixture[str], encode: Callable[[str], str]
) -> None:
    handles = configure()
    register_secret(WS_TOKEN)
    encoded = encode(WS_TOKEN)
    assert encoded != WS_TOKEN
    logger.info("body nonce=1&sig={}&pair=XBTUSD", encoded)
    logger.info("secret {} in form {}", API_SECRET, encode(API_SECRET))
    for sink, text in every_sink_text(handles, capsys).items():
        assert encoded not in text and encode(API_SECRET) not in text, sink
        assert f"sig={REDACTED}&pair=XBTUSD" in text, sink


def raise_chained(secret: str) -> None:
    """A top exception without the secret, caused by one with it, in the context of another."""
    try:
        raise KeyError(f"nonce state {secret}")
    except KeyError:
        try:
            raise ValueError(f"signature check failed for {secret}")
        except ValueError as cause:
            raise ConnectionError("private request failed") from cause


@pytest.mark.parametrize("console_format", ["plain", "json"])
def test_secrets_in_chained_exceptions_are_redacted_in_every_sink(
    configure: Configure, capsys: pytest.CaptureFixture[str], console_format: str
) -> None:
    handles = configure(console_format=console_format)
    register_secret(WS_TOKEN)
    try:
        raise_chained(WS_TOKEN)
    except ConnectionError:
        logger.exception("order placement failed")
    try:
        raise_chained(API_SECRET)
    except ConnectionError:
        logger.opt(exception=True).critical("kill switch: exchange unreachable")
    for sink, text in every_sink_text(handles, capsys).items():
        assert WS_TOKEN not in text and API_SECRET not in text, sink
        if sink not in TRACEBACK_SINKS:
            continue
        # The chain is still there to debug with, only the values are gone.
        assert f"ValueError: signature check failed for {REDACTED}" in text.replace("\\n", "\n"), (
            sink
        )
        assert "ConnectionError: private request failed" in text, sink
        assert "direct cause of the following exception" in text, sink


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


def test_third_party_debug_is_capped_at_info_unless_asked(configure: Configure) -> None:
    handles = configure(level="DEBUG")
    for name in THIRD_PARTY_LOGGERS:
        stdlib_logging.getLogger(f"{name}.core").debug("chatty %s", name)
        stdlib_logging.getLogger(f"{name}.core").info("useful %s", name)
    logger.debug("our own debug")
    assert [line.message for line in handles.buffer.since(0)] == [
        *(f"useful {name}" for name in THIRD_PARTY_LOGGERS),
        "our own debug",
    ]


def test_third_party_debug_is_kept_when_asked_for(configure: Configure) -> None:
    handles = configure(level="DEBUG", third_party_level="debug")
    stdlib_logging.getLogger("aiosqlite").debug("executing %s", "SELECT 1")
    assert handles.buffer.since(0)[-1].message == "executing SELECT 1"


def test_level_above_the_third_party_cap_still_applies_to_libraries(configure: Configure) -> None:
    handles = configure(level="WARNING", third_party_level="DEBUG")
    stdlib_logging.getLogger("websockets.client").info("connected")
    stdlib_logging.getLogger("websockets.client").warning("reconnecting")
    assert [line.message for line in handles.buffer.since(0)] == ["reconnecting"]


def test_ui_buffer_size_is_bounded_in_settings_and_in_the_buffer() -> None:
    assert LoggingSettings(ui_buffer_lines=MAX_UI_BUFFER_LINES).ui_buffer_lines == 100_000
    with pytest.raises(ValidationError):
        LoggingSettings(ui_buffer_lines=MAX_UI_BUFFER_LINES + 1)
    with pytest.raises(ValueError, match="1 to 100000 lines"):
        LogBuffer(max_lines=MAX_UI_BUFFER_LINES + 1)
    with pytest.raises(ValueError):
        LogBuffer(max_lines=0)


@pytest.mark.usefixtures("umask_022")
@pytest.mark.parametrize("compression", ["gz", "bz2", "xz", "zip", "tar.gz", "none"])
def test_log_files_rotated_and_compressed_ones_included_are_private(
    tmp_path: Path, configure: Configure, compression: str
) -> None:
    handles = configure(rotation="2 KB", retention=3, compression=compression, headless=False)
    for index in range(100):
        logger.info("filler line {:04d} {}", index, "x" * 60)
    handles.close()
    files = sorted(handles.file_path.parent.iterdir())
    suffix = "" if compression == "none" else f".{compression}"
    rotated = [path for path in files if path != handles.file_path]
    assert len(rotated) == 3 and all(path.name.endswith(f".log{suffix}") for path in rotated)
    assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
    assert mode(tmp_path / "logs") == 0o700


@pytest.mark.usefixtures("umask_022")
def test_an_existing_log_directory_keeps_its_mode_and_an_old_log_file_is_tightened(
    tmp_path: Path, configure: Configure
) -> None:
    (tmp_path / "logs").mkdir(mode=0o755)
    old_log = tmp_path / "logs" / "kraken_tui.log"
    old_log.write_text("written by an older version\n")
    old_log.chmod(0o644)
    handles = configure(headless=False)
    logger.info("appended")
    handles.close()
    assert mode(tmp_path / "logs") == 0o755
    assert mode(old_log) == 0o600
    assert old_log.read_text().startswith("written by an older version\n")


def test_tracebacks_never_show_local_variable_values(
    configure: Configure, capsys: pytest.CaptureFixture[str]
) -> None:
    handles = configure()

    def sign_request() -> None:
        session_key = "unregistered-local-4d1f"  # loguru's diagnose=True would print this
        raise RuntimeError("signing failed", len(session_key))

    try:
        sign_request()
    except RuntimeError:
        logger.exception("private call failed")
    for sink, text in every_sink_text(handles, capsys).items():
        assert "unregistered-local-4d1f" not in text, sink
        if sink in TRACEBACK_SINKS:
            assert "RuntimeError: ('signing failed', 23)" in text, sink
