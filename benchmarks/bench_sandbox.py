"""Sandbox market throughput: book update messages per second a WebSocket client receives.

Issue 4 asks the synthetic market to produce book updates at a configurable rate up to at
least 5,000 messages/s. The sandbox runs as the child process the app uses; a client
subscribes to every pair at depth 1000 (so every level change produces a message) and
counts `book` updates for a fixed window, at a low rate (the baseline, where pacing and not
CPU is the limit) and at 5,000/s, in the same run. Each figure is reported against the rate
asked for.

Run with `scripts/bench sandbox`.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from kraken_tui.sandbox.process import SandboxProcess

SYMBOLS = ["BTC/USD", "ETH/USD", "SOL/USD", "ETH/BTC"]
WINDOW_S = 5.0


async def received_rate(rate: float) -> tuple[float, float]:
    """Book update messages per second received, and the share carrying both sides."""
    async with SandboxProcess(rate=rate, seed=2) as box, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(box.ws_url + "/v2", max_msg_size=0)
        await ws.send_json(
            {"method": "subscribe", "params": {"channel": "book", "symbol": SYMBOLS, "depth": 1000}}
        )
        await asyncio.sleep(1.0)  # snapshots and warm-up out of the window
        updates = both = 0
        started = time.monotonic()
        while time.monotonic() - started < WINDOW_S:
            text = (await ws.receive(timeout=5)).data
            if text.startswith('{"channel":"book","type":"update"'):
                updates += 1
                data = json.loads(text)["data"][0]
                both += bool(data["bids"]) and bool(data["asks"])
        elapsed = time.monotonic() - started
        await ws.close()
    return updates / elapsed, both / max(updates, 1)


async def main() -> None:
    baseline_asked = 500.0
    baseline, _ = await received_rate(baseline_asked)
    busy, both_share = await received_rate(5000.0)
    share = baseline / baseline_asked
    print(f"rate 500:  {baseline:8.0f} book msgs/s received ({share:.2f} of asked)")
    print(
        f"rate 5000: {busy:8.0f} book msgs/s received ({busy / 5000:.2f} of asked), "
        f"{both_share:.0%} carry both sides"
    )
    result = {
        "busy_msgs_per_s": round(busy),
        "busy_to_asked_ratio": round(busy / 5000, 3),
        "baseline_msgs_per_s": round(baseline),
        "baseline_to_asked_ratio": round(baseline / baseline_asked, 3),
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
