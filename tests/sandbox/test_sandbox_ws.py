"""WebSocket v2 public channels, checked with a raw client (exact frames) and the SDK client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from kraken.spot import SpotWSClient
from sandbox_harness import SandboxThread, running_sandbox

from kraken_tui.sandbox.server import SandboxServer
from kraken_tui.sandbox.wire import book_checksum


@pytest.fixture
async def live() -> AsyncIterator[SandboxServer]:
    async with running_sandbox(rate=1000, seed=3) as server:
        yield server


class Inbox:
    """Messages from one socket, with waiting for the one a test is after."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_json(message)

    async def next(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = 5.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("expected message did not arrive")
            try:
                frame = await self.ws.receive(timeout=remaining)
            except TimeoutError as exc:
                raise AssertionError("expected message did not arrive") from exc
            if frame.type is not aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"socket ended: {frame.type}")
            message = frame.json(
                loads=lambda text: __import__("json").loads(text, parse_float=Decimal)
            )
            if predicate(message):
                return message


def _rendered(
    levels: dict[Decimal, Decimal], p: int, q: int, *, descending: bool
) -> list[tuple[str, str]]:
    return [
        (f"{price:.{p}f}", f"{levels[price]:.{q}f}") for price in sorted(levels, reverse=descending)
    ]


async def _open(url: str) -> tuple[aiohttp.ClientSession, Inbox]:
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(url)
    return session, Inbox(ws)


async def test_connect_gets_status_then_ping_gets_pong_with_req_id(live: SandboxServer) -> None:
    session, inbox = await _open(live.ws_url + "/v2")
    async with session:
        status = await inbox.next(lambda m: True)
        assert status["channel"] == "status"
        assert status["data"][0]["system"] == "online"
        assert status["data"][0]["api_version"] == "v2"
        await inbox.send({"method": "ping", "req_id": 101})
        pong = await inbox.next(lambda m: m.get("method") == "pong")
        assert pong["req_id"] == 101
        assert pong["time_in"].endswith("Z") and pong["time_out"].endswith("Z")


async def test_heartbeat_flows_once_subscribed(live: SandboxServer) -> None:
    session, inbox = await _open(live.ws_url + "/v2")
    async with session:
        await inbox.send({"method": "subscribe", "params": {"channel": "instrument"}})
        await inbox.next(lambda m: m.get("channel") == "heartbeat", within=3)


async def test_book_subscription_acks_each_symbol_and_checksums_match_applied_book(
    live: SandboxServer,
) -> None:
    session, inbox = await _open(live.ws_url + "/v2")
    async with session:
        await inbox.send(
            {
                "method": "subscribe",
                "params": {"channel": "book", "symbol": ["BTC/USD", "ETH/BTC"], "depth": 25},
                "req_id": 7,
            }
        )
        acks: list[dict[str, Any]] = []
        books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}
        decimals = {"BTC/USD": (1, 8), "ETH/BTC": (5, 8)}
        updates = 0
        while updates < 300:
            message = await inbox.next(
                lambda m: m.get("channel") == "book" or m.get("method") == "subscribe"
            )
            if message.get("method") == "subscribe":
                acks.append(message)
                continue
            data = message["data"][0]
            symbol = data["symbol"]
            if message["type"] == "snapshot":
                assert "timestamp" not in data
                books[symbol] = {"bids": {}, "asks": {}}
            else:
                updates += 1
                assert data["timestamp"].endswith("Z")
            for side, reverse in (("bids", True), ("asks", False)):
                levels = books[symbol][side]
                for level in data[side]:
                    if level["qty"] == 0:
                        levels.pop(level["price"], None)
                    else:
                        levels[level["price"]] = level["qty"]
                    kept = sorted(levels, reverse=reverse)[:25]
                    books[symbol][side] = levels = {p: levels[p] for p in kept}
            p, q = decimals[symbol]
            asks = _rendered(books[symbol]["asks"], p, q, descending=False)
            bids = _rendered(books[symbol]["bids"], p, q, descending=True)
            assert data["checksum"] == book_checksum(asks, bids)
            best_bid = max(books[symbol]["bids"], default=None)
            best_ask = min(books[symbol]["asks"], default=None)
            if best_bid is not None and best_ask is not None:
                assert best_bid < best_ask
        assert {a["result"]["symbol"] for a in acks} == {"BTC/USD", "ETH/BTC"}
        assert all(a["req_id"] == 7 and a["success"] and a["result"]["depth"] == 25 for a in acks)


async def test_book_prices_are_json_numbers_with_the_pairs_precision(live: SandboxServer) -> None:
    session, inbox = await _open(live.ws_url + "/v2")
    async with session:
        await inbox.send(
            {"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"]}}
        )
        raw = ""
        while '"type":"snapshot"' not in raw:
            raw = (await inbox.ws.receive(timeout=5)).data
        assert '"price":' in raw and '"price":"' not in raw
        first_price = raw.split('"price":', 1)[1].split(",", 1)[0]
        assert len(first_price.split(".")[1]) == 1  # BTC/USD pair_decimals
        first_qty = raw.split('"qty":', 1)[1].split("}", 1)[0]
        assert len(first_qty.split(".")[1]) == 8  # lot_decimals


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"channel": "book", "symbol": ["DOGE/XYZ"]}, "Currency pair not supported DOGE/XYZ"),
        ({"channel": "book", "symbol": ["BTC/USD"], "depth": 7}, "Invalid depth: 7"),
        ({"channel": "ohlc", "symbol": ["BTC/USD"], "interval": 2}, "Invalid interval: 2"),
        ({"channel": "nonsense", "symbol": ["BTC/USD"]}, "Channel nonsense not supported"),
        ({"channel": "executions"}, "EGeneral:Permission denied"),
    ],
)
async def test_bad_subscriptions_are_refused_with_req_id(
    live: SandboxServer, params: dict[str, Any], error: str
) -> None:
    session, inbox = await _open(live.ws_url + "/v2")
    async with session:
        await inbox.send({"method": "subscribe", "params": params, "req_id": 9})
        reply = await inbox.next(lambda m: m.get("method") == "subscribe")
        assert reply["success"] is False
        assert reply["error"] == error
        assert reply["req_id"] == 9


async def test_subscribing_twice_is_refused(live: SandboxServer) -> None:
    session, inbox = await _open(live.ws_url + "/v2")
    async with session:
        params = {"channel": "ticker", "symbol": ["ETH/USD"]}
        await inbox.send({"method": "subscribe", "params": params, "req_id": 1})
        await inbox.next(lambda m: m.get("req_id") == 1)
        await inbox.send({"method": "subscribe", "params": params, "req_id": 2})
        again = await inbox.next(lambda m: m.get("req_id") == 2)
        assert again["success"] is False and again["error"] == "Already subscribed"
        assert again["symbol"] == "ETH/USD"


async def test_unsubscribe_acks_and_stops_the_feed(live: SandboxServer) -> None:
    session, inbox = await _open(live.ws_url + "/v2")
    async with session:
        params = {"channel": "book", "symbol": ["BTC/USD"], "depth": 10}
        await inbox.send({"method": "subscribe", "params": params})
        await inbox.next(lambda m: m.get("type") == "update")
        await inbox.send({"method": "unsubscribe", "params": params, "req_id": 3})
        ack = await inbox.next(lambda m: m.get("method") == "unsubscribe")
        assert ack["success"] and ack["req_id"] == 3 and ack["result"]["symbol"] == "BTC/USD"
        await asyncio.sleep(0.05)
        with pytest.raises(AssertionError):
            await inbox.next(lambda m: m.get("channel") == "book", within=0.5)


def test_sdk_ws_client_receives_instrument_ticker_trade_and_ohlc(sandbox: SandboxThread) -> None:
    assert sandbox.server is not None
    server = sandbox.server

    async def scenario() -> dict[str, list[dict[str, Any]]]:
        seen: dict[str, list[dict[str, Any]]] = {}

        async def on_message(message: dict[str, Any]) -> None:
            channel = message.get("channel") or message.get("method")
            seen.setdefault(str(channel), []).append(message)

        client = SpotWSClient(callback=on_message, ws_url=server.ws_url, rest_url=server.rest_url)
        await client.start()
        await client.subscribe(params={"channel": "instrument"})
        for channel in ("ticker", "trade"):
            await client.subscribe(params={"channel": channel, "symbol": ["BTC/USD"]})
        await client.subscribe(params={"channel": "ohlc", "symbol": ["BTC/USD"], "interval": 1})
        deadline = time.monotonic() + 20
        wanted = {"instrument", "ticker", "trade", "ohlc"}
        while time.monotonic() < deadline:
            updates = {c for c in wanted if any(m.get("type") == "update" for m in seen.get(c, []))}
            if updates | {"instrument"} == wanted and "instrument" in seen:
                break
            await asyncio.sleep(0.1)
        await client.close()
        return seen

    seen = asyncio.run(scenario())
    pairs = seen["instrument"][0]["data"]["pairs"]
    btc = next(p for p in pairs if p["symbol"] == "BTC/USD")
    assert btc["price_precision"] == 1 and btc["qty_precision"] == 8
    ticker = seen["ticker"][-1]["data"][0]
    assert {"bid", "ask", "last", "volume", "vwap", "change_pct"} <= set(ticker)
    assert ticker["bid"] < ticker["ask"]
    trade = next(m for m in seen["trade"] if m["type"] == "update")["data"][0]
    assert {"side", "price", "qty", "ord_type", "trade_id", "timestamp"} <= set(trade)
    bar = next(m for m in seen["ohlc"] if m["type"] == "update")["data"][0]
    assert bar["low"] <= bar["close"] <= bar["high"] and bar["interval"] == 1
