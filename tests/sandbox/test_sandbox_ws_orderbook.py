"""The SDK's own SpotOrderBookClient keeps a valid book (checksum on every update) against
the sandbox's fast synthetic market, and detects the checksum the fault plan corrupts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from kraken.base_api import SpotClient
from kraken.spot import SpotOrderBookClient
from kraken.spot.websocket import SpotWSClientBase
from sandbox_harness import SandboxThread, sandbox_in_thread

SYMBOLS = ["BTC/USD", "ETH/USD", "SOL/USD", "ETH/BTC"]


def _point_sdk_at(box: SandboxThread, monkeypatch: pytest.MonkeyPatch) -> None:
    """SpotOrderBookClient takes no URLs: it reads these class attributes (notes §6)."""
    assert box.server is not None
    monkeypatch.setattr(SpotWSClientBase, "WS_URL", box.server.ws_url)
    monkeypatch.setattr(SpotClient, "URL", box.server.rest_url)


async def _count_updates(
    target: int, within: float, corrupt_after: int | None, box: SandboxThread
) -> dict[str, Any]:
    counts: dict[str, Any] = {"updates": 0, "errors": []}

    def on_update(pair: str, message: dict[str, Any]) -> None:
        if "error" in message:
            counts["errors"].append(message["error"])
        elif message.get("type") == "update":
            counts["updates"] += 1
            if corrupt_after is not None and counts["updates"] == corrupt_after:
                assert box.server is not None
                box.call(box.server.faults.apply, {"corrupt_checksums": 1})

    client = SpotOrderBookClient(depth=10, callback=on_update)
    await client.start()
    await client.add_book(pairs=SYMBOLS)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if counts["updates"] >= target or (corrupt_after is not None and counts["errors"]):
            break
        await asyncio.sleep(0.2)
    await client.close()
    return counts


def test_sdk_order_book_validates_thousands_of_updates_without_resync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SDK's own book checks every checksum we send. 3,000 updates from a sandbox at
    2,000 msgs/s, not more: the sandbox shares this process's GIL, and at 20,000 msgs/s on a
    loaded shared machine the SDK's handshake timed out before the first update."""
    with sandbox_in_thread(rate=2000, seed=11) as box:
        _point_sdk_at(box, monkeypatch)
        counts = asyncio.run(_count_updates(3_000, 90, None, box))
    assert counts["errors"] == []
    assert counts["updates"] >= 3_000


def test_sdk_order_book_detects_an_injected_checksum_corruption(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with sandbox_in_thread(rate=2000, seed=5) as box:
        _point_sdk_at(box, monkeypatch)
        counts = asyncio.run(_count_updates(10_000, 20, 50, box))
    assert len(counts["errors"]) == 1
    assert counts["errors"][0].startswith("Checksum mismatch")
