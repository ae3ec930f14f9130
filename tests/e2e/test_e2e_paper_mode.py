"""Paper mode end to end: the sandbox child process mirrors a (recorded, replayed) Kraken
feed, and the real adapter sees that book and trades against it through the SDK."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

from kraken_tui.domain import OrderRequest, OrderType, Side
from kraken_tui.exchange.kraken import KrakenEndpoints, KrakenExchange
from kraken_tui.exchange.protocol import FillEvent
from kraken_tui.sandbox.process import SandboxProcess

sys.path.insert(0, str(Path(__file__).parents[1] / "sandbox"))
from recording import RECORDING_PATH, final_books
from test_sandbox_mirror import ReplayFeed


async def test_paper_mode_books_are_kraken_books_and_orders_fill_against_them(
    tmp_path: Path,
) -> None:
    feed = ReplayFeed(RECORDING_PATH.read_text().splitlines())
    await feed.start()
    box = SandboxProcess(
        mirror_url=feed.url, mirror_pairs=["BTC/USD", "ETH/USD"], state_path=tmp_path / "s.db"
    )
    await box.astart()
    exchange = KrakenExchange(
        KrakenEndpoints(box.rest_url, box.ws_url, box.ws_auth_url),
        api_key=box.api_key,
        api_secret=box.api_secret,
    )
    fills: list[FillEvent] = []
    exchange.set_event_handler(lambda e: fills.append(e) if isinstance(e, FillEvent) else None)
    try:
        await exchange.connect()
        await exchange.subscribe_market(["BTC/USD"], depth=10)
        expected = final_books()["BTC/USD"]
        want_bids, want_asks = list(expected.top("bids")), list(expected.top("asks"))

        def mirrored() -> bool:
            book = exchange.book("BTC/USD")
            return (
                book is not None
                and not book.stale
                and [(lvl.price, lvl.qty) for lvl in book.bids] == want_bids
                and [(lvl.price, lvl.qty) for lvl in book.asks] == want_asks
            )

        deadline = time.monotonic() + 20
        while not mirrored():
            assert time.monotonic() < deadline, "the adapter never saw the mirrored book"
            await asyncio.sleep(0.1)

        await exchange.add_order(
            OrderRequest(uuid.uuid4().hex, "BTC/USD", Side.BUY, OrderType.MARKET, Decimal("0.01"))
        )
        deadline = time.monotonic() + 15
        while not fills:
            assert time.monotonic() < deadline, "the paper order never filled"
            await asyncio.sleep(0.1)
        assert fills[0].execution.price == want_asks[0][0]
    finally:
        await exchange.close()
        await box.astop()
        await feed.stop()
