"""MirrorMarket against a recorded Kraken WebSocket v2 stream replayed over a real socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from recording import PAIRS, RECORDING_PATH, ReferenceBook, final_books, generate

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.mirror import MirrorMarket
from kraken_tui.sandbox.records import OrderState
from kraken_tui.sandbox.venue import SandboxVenue

SYMBOLS = ("BTC/USD", "ETH/USD")
USER = "mirror-test-user"


class ReplayFeed:
    """A loopback stand-in for wss://ws.kraken.com/v2 that replays recorded lines.

    Each connection sends the status line, waits for the client's subscriptions, then streams
    the rest. A later single-symbol book subscription (a resync) is answered with an ack and
    a snapshot of that symbol's current book. `drop_after` closes the first connection after
    that many lines; `push` sends extra lines once the replay is done."""

    def __init__(self, lines: list[str], *, drop_after: int | None = None) -> None:
        self.lines = lines
        self.drop_after = drop_after
        self.received: list[dict[str, Any]] = []
        self.connections = 0
        self.replayed = asyncio.Event()
        self.books: dict[str, ReferenceBook] = {}
        self._outgoing: asyncio.Queue[str | None] = asyncio.Queue()
        self._sockets: set[web.WebSocketResponse] = set()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v2", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}/v2"

    async def stop(self) -> None:
        self._outgoing.put_nowait(None)
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def push(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":"))
        self._track(line)
        self._outgoing.put_nowait(line)

    def _track(self, line: str) -> None:
        try:
            message = json.loads(line, parse_float=Decimal)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("channel") != "book":
            return
        entries = message.get("data")
        if not isinstance(entries, list):
            return
        for entry in entries:
            if not isinstance(entry, dict) or "checksum" not in entry:
                continue
            book = self.books[entry["symbol"]]
            if message["type"] == "snapshot":
                book.bids.clear()
                book.asks.clear()
            for side in ("bids", "asks"):
                levels = book.bids if side == "bids" else book.asks
                for level in entry[side]:
                    if level["qty"] > 0:
                        levels[level["price"]] = level["qty"]
                    else:
                        levels.pop(level["price"], None)
            book.truncate()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        self.connections += 1
        first_connection = self.connections == 1
        self.books = {spec.symbol: ReferenceBook(spec) for spec in PAIRS}
        subscribed = asyncio.Event()
        reader = asyncio.create_task(self._read(ws, subscribed))
        try:
            await ws.send_str(self.lines[0])
            await asyncio.wait_for(subscribed.wait(), 5)
            for index, line in enumerate(self.lines[1:], start=1):
                if first_connection and index == self.drop_after:
                    await ws.close()
                    return ws
                while not self._outgoing.empty():
                    pending = self._outgoing.get_nowait()
                    if pending is not None:
                        await ws.send_str(pending)
                self._track(line)
                await ws.send_str(line)
                await asyncio.sleep(0)
            self.replayed.set()
            while (pending := await self._outgoing.get()) is not None:
                await ws.send_str(pending)
        except ConnectionResetError:
            pass
        finally:
            reader.cancel()
            self._sockets.discard(ws)
        return ws

    async def _read(self, ws: web.WebSocketResponse, subscribed: asyncio.Event) -> None:
        book_subscriptions = 0
        async for frame in ws:
            if frame.type is not WSMsgType.TEXT:
                continue
            request = json.loads(frame.data)
            self.received.append(request)
            params = request.get("params", {})
            if params.get("channel") == "trade":
                subscribed.set()
            if request.get("method") != "subscribe" or params.get("channel") != "book":
                continue
            book_subscriptions += 1
            if book_subscriptions > 1:
                for symbol in params["symbol"]:
                    self._outgoing.put_nowait(self._ack(request, symbol))
                    self._outgoing.put_nowait(
                        json.dumps(self.books[symbol].snapshot_message(), separators=(",", ":"))
                    )

    @staticmethod
    def _ack(request: dict[str, Any], symbol: str) -> str:
        result = {"channel": "book", "symbol": symbol, "depth": 10, "snapshot": True}
        return json.dumps(
            {"method": "subscribe", "result": result, "success": True, "req_id": request["req_id"]}
        )


@pytest.fixture
def venue() -> SandboxVenue:
    venue = SandboxVenue(id_seed=1)
    venue.open_account(USER, {"ZUSD": Decimal(10_000_000), "XXBT": Decimal(10)})
    return venue


@asynccontextmanager
async def replay(
    venue: SandboxVenue, lines: list[str], **feed_options: Any
) -> AsyncIterator[tuple[ReplayFeed, MirrorMarket]]:
    feed = ReplayFeed(lines, **feed_options)
    await feed.start()
    mirror = MirrorMarket(
        venue, SYMBOLS, url=feed.url, reconnect_initial_s=0.05, reconnect_max_s=0.2
    )
    await mirror.start()
    try:
        yield feed, mirror
    finally:
        await mirror.stop()
        await feed.stop()


@asynccontextmanager
async def mirrored(
    venue: SandboxVenue, lines: list[str], **feed_options: Any
) -> AsyncIterator[tuple[ReplayFeed, MirrorMarket]]:
    """`replay`, entered once the feed has sent every line and the venue's book mirrors the
    recording's final book."""
    async with replay(venue, lines, **feed_options) as (feed, mirror):
        await feed.replayed.wait()
        await pump(mirror, mirrors_recording(venue))
        yield feed, mirror


async def pump(mirror: MirrorMarket, done: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Run the pacing loop's part: step the mirror until `done()` holds after a step."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        mirror.step(loop.time())
        if done():
            return
        if loop.time() > deadline:
            raise AssertionError("mirror did not reach the expected state in time")
        await asyncio.sleep(0.005)


def expected_top(symbol: str) -> tuple[tuple[tuple[Decimal, Decimal], ...], ...]:
    book = final_books()[symbol]
    return tuple(book.top("bids")), tuple(book.top("asks"))


def venue_top(venue: SandboxVenue, symbol: str) -> tuple[tuple[tuple[Decimal, Decimal], ...], ...]:
    levels = venue.book(symbol, 10)
    return levels.bids, levels.asks


def mirrors_recording(venue: SandboxVenue) -> Callable[[], bool]:
    expected = {symbol: expected_top(symbol) for symbol in SYMBOLS}
    return lambda: all(venue_top(venue, s) == expected[s] for s in SYMBOLS)


def recorded_trades(lines: list[str]) -> list[dict[str, Any]]:
    trades: list[dict[str, Any]] = []
    for line in lines:
        message = json.loads(line, parse_float=Decimal)
        if message.get("channel") == "trade":
            trades.extend(message["data"])
    return trades


def test_recording_file_is_exactly_what_the_generator_produces() -> None:
    assert RECORDING_PATH.read_text().splitlines() == generate()


async def test_replayed_feed_makes_venue_book_equal_recorded_book_and_prints_its_trades(
    venue: SandboxVenue,
) -> None:
    lines = RECORDING_PATH.read_text().splitlines()
    async with mirrored(venue, lines) as (_feed, mirror):
        assert not mirror.stale
        assert mirror.resyncs == {"BTC/USD": 0, "ETH/USD": 0}
        assert mirror.malformed == 0
    for symbol in SYMBOLS:
        trades = [t for t in recorded_trades(lines) if t["symbol"] == symbol]
        printed = venue.recent_trades(symbol)
        assert sum(t.qty for t in printed) == sum(t["qty"] for t in trades)
        assert {t.price for t in printed} == {t["price"] for t in trades}
        assert venue.last_price(symbol) == trades[-1]["price"]


async def test_user_market_order_fills_against_mirrored_liquidity_at_feed_prices(
    venue: SandboxVenue,
) -> None:
    (ask1, qty1), (ask2, _) = final_books()["BTC/USD"].top("asks", 2)
    lines = RECORDING_PATH.read_text().splitlines()
    async with mirrored(venue, lines) as (_feed, _mirror):
        volume = qty1 + Decimal("0.01")
        result = venue.add_order(
            USER, pair="BTC/USD", side=Side.BUY, order_type="market", volume=volume
        )
        fills = venue.recent_fills(USER)
        assert [(f.price, f.vol) for f in fills] == [(ask1, qty1), (ask2, Decimal("0.01"))]
        assert venue.query_orders(USER, [result.txid or ""])[0].status is OrderState.CLOSED
        assert venue.book("BTC/USD", 1).asks[0][0] == ask2


async def test_resting_limit_order_stays_until_the_mirrored_book_crosses_it(
    venue: SandboxVenue,
) -> None:
    lines = RECORDING_PATH.read_text().splitlines()
    async with mirrored(venue, lines) as (feed, mirror):
        reference = feed.books["BTC/USD"]
        best_bid = reference.top("bids", 1)[0][0]
        user_price = best_bid + Decimal("0.1")
        assert user_price < reference.top("asks", 1)[0][0]
        result = venue.add_order(
            USER,
            pair="BTC/USD",
            side=Side.BUY,
            order_type="limit",
            volume=Decimal("0.05"),
            price=user_price,
        )
        txid = result.txid or ""
        feed.push(reference.change("bids", [(best_bid, Decimal("0.777"))], "t") or {})
        await pump(mirror, lambda: venue.book("BTC/USD", 2).bids[1] == (best_bid, Decimal("0.777")))
        assert venue.query_orders(USER, [txid])[0].status is OrderState.OPEN
        assert venue.book("BTC/USD", 1).bids[0] == (user_price, Decimal("0.05"))

        feed.push(reference.change("asks", [(user_price, Decimal("0.2"))], "t") or {})
        await pump(mirror, lambda: venue.query_orders(USER, [txid])[0].status is OrderState.CLOSED)
        (fill,) = venue.recent_fills(USER)
        assert (fill.price, fill.vol) == (user_price, Decimal("0.05"))
        assert venue.book("BTC/USD", 1).asks[0] == (user_price, Decimal("0.15"))
        assert venue.book("BTC/USD", 1).bids[0] == (best_bid, Decimal("0.777"))


async def test_corrupted_checksum_resubscribes_only_that_pair_and_recovers(
    venue: SandboxVenue,
) -> None:
    lines = RECORDING_PATH.read_text().splitlines()
    eth_updates = [
        i for i, line in enumerate(lines) if '"type":"update"' in line and "ETH/USD" in line
    ]
    corrupt_at = eth_updates[len(eth_updates) // 2]
    message = json.loads(lines[corrupt_at])
    if message["channel"] == "trade":
        corrupt_at += 1
        message = json.loads(lines[corrupt_at])
    message["data"][0]["checksum"] ^= 0x5A5A
    lines[corrupt_at] = json.dumps(message, separators=(",", ":"))
    async with mirrored(venue, lines) as (feed, mirror):
        resync_requests = [r for r in feed.received if r["params"]["channel"] == "book"][1:]
        assert [(r["method"], r["params"]["symbol"]) for r in resync_requests] == [
            ("unsubscribe", ["ETH/USD"]),
            ("subscribe", ["ETH/USD"]),
        ]
        assert mirror.resyncs == {"BTC/USD": 0, "ETH/USD": 1}
        assert feed.connections == 1
        assert not mirror.stale


async def test_dropped_connection_reconnects_and_mirrors_the_new_stream(
    venue: SandboxVenue,
) -> None:
    lines = RECORDING_PATH.read_text().splitlines()
    async with mirrored(venue, lines, drop_after=150) as (feed, mirror):
        assert feed.connections == 2
        assert mirror.connections == 2
        assert mirror.connected and not mirror.stale
        subscriptions = [r for r in feed.received if r["method"] == "subscribe"]
        assert [r["params"]["channel"] for r in subscriptions] == ["book", "trade"] * 2


async def test_malformed_frames_are_skipped_without_disturbing_the_mirror(
    venue: SandboxVenue,
) -> None:
    lines = RECORDING_PATH.read_text().splitlines()
    garbage = [
        "{not json",
        "[1, 2, 3]",
        '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"up"}]}',
        '{"channel":"book","type":"update","data":"levels"}',
        '{"channel":"mystery","type":"update","data":[]}',
    ]
    for offset, line in enumerate(garbage):
        lines.insert(60 + offset * 40, line)
    async with mirrored(venue, lines) as (_feed, mirror):
        assert mirror.malformed == len(garbage)
        assert mirror.resyncs == {"BTC/USD": 0, "ETH/USD": 0}
        assert not mirror.stale


async def test_feed_outage_marks_mirror_stale_and_venue_keeps_the_last_book(
    venue: SandboxVenue,
) -> None:
    lines = RECORDING_PATH.read_text().splitlines()
    async with mirrored(venue, lines) as (feed, mirror):
        await feed.stop()
        await pump(mirror, lambda: mirror.stale)
        await asyncio.sleep(0.3)
        mirror.step(0.0)
        assert not mirror.connected
        assert mirrors_recording(venue)()


async def test_feed_trade_fills_user_order_it_traded_through_and_restores_the_level(
    venue: SandboxVenue,
) -> None:
    lines = RECORDING_PATH.read_text().splitlines()
    async with mirrored(venue, lines) as (feed, mirror):
        reference = feed.books["BTC/USD"]
        (best_ask, ask_qty), (best_bid, _) = (
            reference.top("asks", 1)[0],
            reference.top("bids", 1)[0],
        )
        user_price = best_ask - Decimal("0.1")
        assert user_price > best_bid
        result = venue.add_order(
            USER,
            pair="BTC/USD",
            side=Side.SELL,
            order_type="limit",
            volume=Decimal("0.02"),
            price=user_price,
        )
        traded = Decimal("0.05")
        trade = {
            "symbol": "BTC/USD",
            "side": "buy",
            "price": float(best_ask),
            "qty": float(traded),
            "ord_type": "market",
            "trade_id": 99,
            "timestamp": "2026-11-02T15:00:00.000000Z",
        }
        feed.push({"channel": "trade", "type": "update", "data": [trade]})
        txid = result.txid or ""
        await pump(mirror, lambda: venue.query_orders(USER, [txid])[0].status is OrderState.CLOSED)
        (fill,) = venue.recent_fills(USER)
        assert (fill.price, fill.vol) == (user_price, Decimal("0.02"))
        assert venue.book("BTC/USD", 1).asks[0] == (best_ask, ask_qty)
        printed = venue.recent_trades("BTC/USD")[-2:]
        assert [(t.price, t.qty) for t in printed] == [
            (user_price, Decimal("0.02")),
            (best_ask, Decimal("0.03")),
        ]
