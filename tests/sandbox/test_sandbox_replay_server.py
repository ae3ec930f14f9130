"""A sandbox whose BTC/USD market replays a Kraken time-and-sales file, seen over REST."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import aiohttp

from kraken_tui.sandbox.bootstrap import build_server
from kraken_tui.sandbox.server import SandboxConfig

ROWS = [
    ("1764064800.1", "95000.0", "0.01"),
    ("1764064800.5", "95010.0", "0.02"),
    ("1764064800.9", "94990.0", "0.50"),
]


async def test_replayed_trades_are_printed_on_the_pairs_tape(tmp_path: Path) -> None:
    csv = tmp_path / "XBTUSD.csv"
    csv.write_text("".join(f"{t},{p},{v}\n" for t, p, v in ROWS))
    server = build_server(
        SandboxConfig(rate=200, seed=1, replay_csv=csv, replay_pair="BTC/USD", replay_speed=10)
    )
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(50):
                response = await http.get(f"{server.rest_url}/0/public/Trades?pair=XBTUSD")
                result = (await response.json())["result"]
                rows = next(v for k, v in result.items() if k != "last")
                printed = [(Decimal(r[0]), Decimal(r[1])) for r in rows]
                if len(printed) >= len(ROWS):
                    break
                await asyncio.sleep(0.1)
    finally:
        await server.stop()
        server.venue.close()
    replayed = [(Decimal(p), Decimal(v)) for _, p, v in ROWS]
    assert [trade for trade in printed if trade in replayed] == replayed
