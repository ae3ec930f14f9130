"""Helpers of the exchange tests (imported by name: pytest puts this directory on sys.path):
a `KrakenExchange` connected to a running sandbox, and waiting for what it reports."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from kraken_tui.exchange.kraken import KrakenEndpoints, KrakenExchange
from kraken_tui.exchange.protocol import ExchangeEvent
from kraken_tui.exchange.ratelimit import Tier
from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET
from kraken_tui.sandbox.server import SandboxServer


@asynccontextmanager
async def connected(
    sandbox: SandboxServer, *, tier: Tier = Tier.PRO, nonce_path: Path | None = None
) -> AsyncIterator[tuple[KrakenExchange, list[ExchangeEvent]]]:
    exchange = KrakenExchange(
        KrakenEndpoints(sandbox.rest_url, sandbox.ws_url, sandbox.ws_auth_url),
        api_key=DEV_API_KEY,
        api_secret=DEV_API_SECRET,
        tier=tier,
        nonce_path=nonce_path,
    )
    events: list[ExchangeEvent] = []
    exchange.set_event_handler(events.append)
    await exchange.connect()
    try:
        yield exchange, events
    finally:
        await exchange.close()


async def eventually(condition: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
