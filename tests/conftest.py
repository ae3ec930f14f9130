"""Shared fixtures: a real redis-server, and running the real CLI in a subprocess."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

# Every sandbox REST answer the suite produces is checked against Kraken's OpenAPI description
# when it is present (docs/testing.md, "Conformance").
pytest_plugins = ["kraken_rest_schema_plugin"]

CLI_TIMEOUT_S = 60.0
REDIS_START_TIMEOUT_S = 10.0


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _redis_answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a private redis-server on a random loopback port, without persistence.

    A missing binary fails loudly: ``scripts/test`` installs it, so its absence means the
    suite is not being run the supported way.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; run the suite with scripts/test")
    workdir = tmp_path_factory.mktemp("redis")
    port = free_loopback_port()
    process = subprocess.Popen(
        [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
            "--logfile", str(workdir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + REDIS_START_TIMEOUT_S
        while not _redis_answers_ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (workdir / "redis.log").read_text(errors="replace")
                pytest.fail(f"redis-server did not start on port {port}:\n{log}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cli_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without any KRAKEN_* variable, plus ``extra``.

    Stripping them keeps a developer's own settings or keys out of the tests.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("KRAKEN_")}
    env.update(extra or {})
    return env


def cli_command(*args: str) -> list[str]:
    """Command line running kraken-tui with the interpreter running the tests."""
    return [sys.executable, "-m", "kraken_tui", *args]


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``kraken-tui ARGS`` to completion in ``tmp_path`` (so relative paths land there)."""

    def run(
        *args: str, env: Mapping[str, str] | None = None, timeout: float = CLI_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cli_command(*args),
            cwd=tmp_path,
            env=cli_environment(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def start_cli(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``kraken-tui ARGS`` in ``tmp_path`` without waiting; killed at teardown if alive."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            cli_command(*args),
            cwd=tmp_path,
            env=cli_environment(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
