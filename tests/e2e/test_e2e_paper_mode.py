"""Paper mode end to end, set up as a run sets it up (`exchange_target`): the sandbox child
process mirrors a (recorded, replayed) Kraken feed, and the real adapter sees that book and
trades against it through the SDK."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

from kraken_tui.domain import OrderRequest, OrderType, Side
from kraken_tui.exchange.kraken import KrakenExchange
from kraken_tui.exchange.protocol import FillEvent
from kraken_tui.exchange_setup import build_exchange, exchange_target
from kraken_tui.settings import load_settings

sys.path.insert(0, str(Path(__file__).parents[1] / "sandbox"))
from recording import RECORDING_PATH, final_books
from test_sandbox_mirror import ReplayFeed


async def test_paper_mode_books_are_kraken_books_and_orders_fill_against_them(
    tmp_path: Path,
) -> None:
    feed = ReplayFeed(RECORDING_PATH.read_text().splitlines())
    await feed.start()
    settings = load_settings(
        overrides={
            "mode": "paper",
            "sandbox": {"mirror_url": feed.url, "state_path": tmp_path / "s.db"},
            "storage": {"db_path": tmp_path / "engine.sqlite3"},
            "logging": {"dir": tmp_path / "logs"},
        }
    )
    async with exchange_target(settings) as target:
        exchange = build_exchange(settings, target)
        await _trade_on_the_mirror(exchange)
    await feed.stop()


async def _trade_on_the_mirror(exchange: KrakenExchange) -> None:
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
