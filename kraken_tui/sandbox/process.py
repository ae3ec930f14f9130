"""The sandbox as a child process: how the app runs it in sandbox mode.

A separate process keeps the market simulation's CPU work off the console's event loop. The
child binds a free loopback port and reports it on one stdout line; the parent then waits
until REST answers. The child's stdin is a pipe the parent never writes: when the parent
exits, or dies without cleaning up, the pipe closes and the child shuts down by itself.
"""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from kraken_tui.private_files import make_private_dir, open_private
from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET
from kraken_tui.sandbox.cli_sandbox import READY_PREFIX
from kraken_tui.sandbox.ratelimits import Tier


class SandboxStartError(RuntimeError):
    """The child exited or stayed silent instead of becoming ready."""


class SandboxProcess:
    """`with SandboxProcess() as box:` or `async with SandboxProcess() as box:`; then use
    `box.rest_url`, `box.ws_url`, `box.ws_auth_url`, `box.api_key`, `box.api_secret`.
    `time_scale` > 1 runs the venue's clock faster than wall time (see `ScaledClock`)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        seed: int = 0,
        rate: float = 200.0,
        state_path: Path | None = None,
        tier: Tier = Tier.STARTER,
        faults: Mapping[str, object] | None = None,
        time_scale: float = 1.0,
        mirror_url: str | None = None,
        mirror_pairs: Sequence[str] = (),
        log_path: Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self._host = host
        self._args = [
            sys.executable,
            "-m",
            "kraken_tui.sandbox",
            "--host",
            host,
            "--port",
            "0",
            "--seed",
            str(seed),
            "--rate",
            str(rate),
            "--tier",
            tier.value,
            "--time-scale",
            repr(time_scale),
            "--ready-line",
            "--exit-on-stdin-eof",
        ]
        if state_path is not None:
            self._args += ["--state", str(state_path)]
        if faults:
            self._args += ["--faults", json.dumps(dict(faults))]
        if mirror_url is not None:
            self._args += ["--mirror", "--mirror-url", mirror_url]
        if mirror_pairs:
            self._args += ["--mirror-pairs", ",".join(mirror_pairs)]
        self._log_path = log_path
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self.port: int | None = None
        self.api_key = DEV_API_KEY
        self.api_secret = DEV_API_SECRET

    @property
    def rest_url(self) -> str:
        return f"http://{self._host}:{self._require_port()}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._host}:{self._require_port()}"

    @property
    def ws_auth_url(self) -> str:
        return f"ws://{self._host}:{self._require_port()}/auth"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _require_port(self) -> int:
        if self.port is None:
            raise RuntimeError("sandbox process is not started")
        return self.port

    # ---- sync lifecycle ------------------------------------------------------------------
    def start(self) -> Self:
        if self._process is not None:
            raise RuntimeError("sandbox process already started")
        if self._log_path is not None:
            # The child logs about its accounts and orders: private like the app's own log.
            make_private_dir(self._log_path.parent)
            # Held open for the child's lifetime and closed in stop().
            self._log_file = open(self._log_path, "ab", opener=open_private)  # noqa: SIM115
        self._process = subprocess.Popen(
            self._args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file if self._log_file is not None else subprocess.DEVNULL,
        )
        try:
            self.port = self._read_ready_port(self._process)
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close the child's stdin (its signal to shut down cleanly), then insist."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _read_ready_port(self, process: subprocess.Popen[bytes]) -> int:
        lines: queue.Queue[bytes] = queue.Queue()
        stdout = process.stdout
        assert stdout is not None

        def pump() -> None:
            # Keeps draining after the ready line so the child never blocks on a full pipe.
            for line in iter(stdout.readline, b""):
                lines.put(line)
            lines.put(b"")

        threading.Thread(target=pump, daemon=True, name="sandbox-stdout").start()
        deadline = time.monotonic() + self._startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxStartError("sandbox did not report ready in time")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty as exc:
                raise SandboxStartError("sandbox did not report ready in time") from exc
            if not line:
                raise SandboxStartError(f"sandbox exited with code {process.wait()}")
            text = line.decode(errors="replace")
            if text.startswith(READY_PREFIX):
                return int(json.loads(text[len(READY_PREFIX) :])["port"])

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        url = self.rest_url + "/0/public/Time"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise SandboxStartError("sandbox port never answered")
            time.sleep(0.05)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- async lifecycle ---------------------------------------------------------------------
    async def astart(self) -> Self:
        """Start without blocking the caller's event loop (the waiting runs in a thread)."""
        return await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()
