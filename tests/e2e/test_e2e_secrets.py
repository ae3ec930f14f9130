"""A real headless run at DEBUG on the built-in sandbox leaks no WebSocket token to any sink
(log file, stderr, the Redis log stream) and leaves only private files behind.

python-kraken-sdk logs the GetWebSocketsToken result when its authenticated connection
opens; the engine's log is where a token would show up. The sandbox issues tokens of a fixed
shape, so a leak is found by that shape even though the test never sees the value.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from kraken_tui.cache.keys import EngineKeys
from kraken_tui.logging import REDACTED
from kraken_tui.sandbox.auth import Authenticator

RunCli = Callable[..., subprocess.CompletedProcess[str]]

RUN_S = "3"
TOKEN_SHAPE = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])")
"""A sandbox WebSocket token (base64 of 30 bytes) standing alone in a line of text."""
SDK_TOKEN_LINE = f"Websocket token: {{'token': '{REDACTED}', 'expires': 900}}"


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    """The common default umask, under which the files used to be world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_token_shape_matches_what_the_sandbox_issues() -> None:
    token, _ = Authenticator().issue_ws_token("probe")
    assert TOKEN_SHAPE.fullmatch(token)


def everything_logged(result: subprocess.CompletedProcess[str], workdir: Path) -> str:
    logs = "".join(path.read_text() for path in sorted((workdir / "logs").iterdir()))
    return result.stdout + result.stderr + logs


def test_a_debug_run_leaks_no_websocket_token_to_file_console_or_redis(
    run_cli: RunCli, tmp_path: Path, redis_server: str
) -> None:
    engine_id = f"secrets-{tmp_path.name}"
    env = {
        # The SDK only logs its token at DEBUG, which has to be asked for explicitly.
        "KRAKEN_TUI_LOGGING__THIRD_PARTY_LEVEL": "DEBUG",
        "KRAKEN_TUI_REDIS__URL": redis_server,
        "KRAKEN_TUI_REDIS__ENGINE_ID": engine_id,
    }
    result = run_cli("--no-ui", "--duration", RUN_S, "--log-level", "DEBUG", env=env)
    assert result.returncode == 0, result.stderr[-3000:]

    log_file = (tmp_path / "logs" / "kraken_tui.log").read_text()
    assert SDK_TOKEN_LINE in log_file  # the SDK did log its token, and it was redacted
    assert SDK_TOKEN_LINE in result.stderr
    assert TOKEN_SHAPE.findall(everything_logged(result, tmp_path)) == []

    client = redis.Redis.from_url(redis_server)
    stream = client.xrange(EngineKeys("kraken_tui", engine_id).log)
    streamed = b"".join(b"".join(fields.values()) for _, fields in stream).decode()
    assert SDK_TOKEN_LINE in streamed
    assert TOKEN_SHAPE.findall(streamed) == []


def test_a_debug_run_keeps_library_debug_out_and_creates_only_private_files(
    run_cli: RunCli, tmp_path: Path
) -> None:
    result = run_cli("--no-ui", "--duration", RUN_S, "--log-level", "DEBUG")
    assert result.returncode == 0, result.stderr[-3000:]

    log_file = (tmp_path / "logs" / "kraken_tui.log").read_text()
    assert "| DEBUG    | kraken_tui." in log_file  # our own DEBUG lines are kept
    library_debug = re.findall(r"\| DEBUG +\| (?:aiosqlite|websockets|kraken\.|aiohttp)", log_file)
    assert library_debug == []
    assert TOKEN_SHAPE.findall(everything_logged(result, tmp_path)) == []

    created = {
        str(path.relative_to(tmp_path)): stat.S_IMODE(path.stat().st_mode)
        for path in tmp_path.rglob("*")
    }
    nonce = next(name for name in created if re.fullmatch(r"data/nonce-[0-9a-f]{16}", name))
    assert created == {
        "data": 0o700,
        "data/kraken_tui.sqlite3": 0o600,
        "data/sandbox.sqlite3": 0o600,
        nonce: 0o600,
        f"{nonce}.lock": 0o600,
        "logs": 0o700,
        "logs/kraken_tui.log": 0o600,
        "logs/sandbox.log": 0o600,
    }
