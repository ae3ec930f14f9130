"""Starting a real sandbox inside tests, on a free loopback port (a test harness: it lives
with the tests, outside the product package).

Two shapes, because clients differ in how they block:
- `sandbox_in_thread()` runs the server on its own event loop in a daemon thread. Use it
  with synchronous clients (the SDK's `SpotClient`/`Market`/`Trade`/`User` use `requests`)
  and with the SDK's `SpotOrderBookClient`, which calls blocking REST inside its async
  message handler and would otherwise freeze a server sharing its loop.
- `running_sandbox()` runs it on the caller's loop, for purely async clients.

Both give a `SandboxServer` (rest_url, ws_url, ws_auth_url, port, venue, faults); the dev
credentials are `DEV_API_KEY`/`DEV_API_SECRET`. Ready-made pytest fixtures: `sandbox`
(live market), `quiet_sandbox` (no market simulation) and `sandbox_async`; import them in
a conftest: `from sandbox_harness import sandbox` (pytest puts `tests/support` on the path).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET
from kraken_tui.sandbox.bootstrap import build_server
from kraken_tui.sandbox.ratelimits import Tier
from kraken_tui.sandbox.server import SandboxConfig, SandboxServer

__all__ = [
    "DEV_API_KEY",
    "DEV_API_SECRET",
    "SandboxThread",
    "quiet_sandbox",
    "running_sandbox",
    "sandbox",
    "sandbox_async",
    "sandbox_in_thread",
]


def _config(
    *,
    seed: int,
    rate: float,
    state_path: Path | None,
    faults: Mapping[str, object] | None,
    tier: Tier,
    rate_limits: bool,
) -> SandboxConfig:
    return SandboxConfig(
        host="127.0.0.1",
        port=0,
        seed=seed,
        rate=rate,
        state_path=state_path,
        faults=dict(faults or {}),
        tier=tier,
        rate_limits=rate_limits,
    )


@asynccontextmanager
async def running_sandbox(
    *,
    seed: int = 7,
    rate: float = 200.0,
    state_path: Path | None = None,
    faults: Mapping[str, object] | None = None,
    tier: Tier = Tier.PRO,
    rate_limits: bool = True,
) -> AsyncIterator[SandboxServer]:
    """A started sandbox on the current event loop; stopped (and its state closed) on exit."""
    server = build_server(
        _config(
            seed=seed,
            rate=rate,
            state_path=state_path,
            faults=faults,
            tier=tier,
            rate_limits=rate_limits,
        )
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        server.venue.close()


class SandboxThread:
    """A sandbox on its own loop in a daemon thread; `call()` runs code on that loop."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="sandbox-loop"
        )
        self._context: Any = None
        self.server: SandboxServer | None = None

    def start(self) -> SandboxServer:
        self._thread.start()
        context = running_sandbox(**self._options)
        self.server = self.run(context.__aenter__())
        self._context = context
        return self.server

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the sandbox's loop and wait for its result."""
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def call(self, fn: Any, *args: Any) -> Any:
        """Run a plain function on the sandbox's loop (the venue is not thread-safe)."""

        async def invoke() -> Any:
            return fn(*args)

        return self.run(invoke())

    def stop(self) -> None:
        """Stop the server (if it started) and the loop thread; safe after a failed start."""
        if self._context is not None:
            self.run(self._context.__aexit__(None, None, None))
            self._context = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()


@contextmanager
def sandbox_in_thread(**options: Any) -> Iterator[SandboxThread]:
    """`with sandbox_in_thread(rate=500) as box: box.server.rest_url ...`"""
    box = SandboxThread(**options)
    try:
        box.start()
        yield box
    finally:
        box.stop()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxThread]:
    """A threaded sandbox with a live synthetic market, its state in the test's tmp dir."""
    with sandbox_in_thread(state_path=tmp_path / "sandbox.sqlite") as box:
        yield box


@pytest.fixture
def quiet_sandbox(tmp_path: Path) -> Iterator[SandboxThread]:
    """A threaded sandbox without market simulation: books hold only what the test puts."""
    with sandbox_in_thread(state_path=tmp_path / "sandbox.sqlite", rate=0) as box:
        yield box


@pytest_asyncio.fixture
async def sandbox_async(tmp_path: Path) -> AsyncIterator[SandboxServer]:
    """A sandbox on the test's own event loop, for async-only clients."""
    async with running_sandbox(state_path=tmp_path / "sandbox.sqlite") as server:
        yield server
