"""The paced market reaches thousands of book messages per second (measured end to end on
a child-process sandbox, so the client's work does not share its interpreter)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from kraken_tui.sandbox.process import SandboxProcess


@pytest.mark.slow
async def test_rate_5000_streams_thousands_of_book_updates_with_both_sides() -> None:
    """How fast is measured by benchmarks/bench_sandbox.py (machines here are shared and
    noisy); this proves the stream at that setting flows and carries both-sided updates."""
    async with SandboxProcess(rate=5000, seed=2) as box, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(box.ws_url + "/v2", max_msg_size=0)
        symbols = ["BTC/USD", "ETH/USD", "SOL/USD", "ETH/BTC"]
        await ws.send_json(
            {"method": "subscribe", "params": {"channel": "book", "symbol": symbols, "depth": 1000}}
        )
        updates = both_sides = 0
        while updates < 3000:
            text = (await ws.receive(timeout=10)).data
            if text.startswith('{"channel":"book","type":"update"'):
                updates += 1
                data = json.loads(text)["data"][0]
                both_sides += bool(data["bids"]) and bool(data["asks"])
        await ws.close()
    assert both_sides > 0  # one message per tick carries both sides when both changed
