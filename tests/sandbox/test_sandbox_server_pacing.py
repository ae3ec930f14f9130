"""The paced market reaches thousands of book messages per second (measured end to end on
a child-process sandbox, so the client's work does not share its interpreter)."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest

from kraken_tui.sandbox.process import SandboxProcess


@pytest.mark.slow
async def test_rate_5000_delivers_thousands_of_book_updates_per_second_with_both_sides() -> None:
    async with SandboxProcess(rate=5000, seed=2) as box, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(box.ws_url + "/v2", max_msg_size=0)
        symbols = ["BTC/USD", "ETH/USD", "SOL/USD", "ETH/BTC"]
        await ws.send_json(
            {"method": "subscribe", "params": {"channel": "book", "symbol": symbols, "depth": 1000}}
        )
        updates = both_sides = 0
        started = time.monotonic()
        while time.monotonic() - started < 3:
            text = (await ws.receive(timeout=2)).data
            if text.startswith('{"channel":"book","type":"update"'):
                updates += 1
                data = json.loads(text)["data"][0]
                both_sides += bool(data["bids"]) and bool(data["asks"])
        rate = updates / (time.monotonic() - started)
        await ws.close()
    assert rate > 2500, f"only {rate:.0f} book messages/s"
    assert both_sides > 0  # one message per tick carries both sides when both changed
