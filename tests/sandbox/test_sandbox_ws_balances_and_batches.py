"""WS v2 `balances` as ledger entries, and `batch_add` / `batch_cancel`, seen on the wire by a
raw aiohttp client (issue 15, points 2 and 4). Sources are cited per test."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from kraken.spot import SpotAsyncClient
from sandbox_harness import running_sandbox

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET
from kraken_tui.sandbox.server import SandboxServer

LEDGER_ID = re.compile(r"^L[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}$")
D = Decimal


@pytest.fixture
async def quiet() -> AsyncIterator[SandboxServer]:
    async with running_sandbox(rate=0, seed=11) as server:
        yield server


class PrivateSocket:
    """One authenticated raw connection. Frames a wait passes over are kept for later
    waits: the venue streams a fill's updates before it answers the request."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, token: str) -> None:
        self.ws = ws
        self.token = token
        self._held: list[dict[str, Any]] = []

    async def request(self, method: str, req_id: int, **params: Any) -> dict[str, Any]:
        message = {"method": method, "params": {**params, "token": self.token}, "req_id": req_id}
        await self.ws.send_json(message)
        return await self.next(lambda m: m.get("method") == method and m.get("req_id") == req_id)

    async def next(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = 5.0
    ) -> dict[str, Any]:
        for index, held in enumerate(self._held):
            if predicate(held):
                return self._held.pop(index)
        deadline = time.monotonic() + within
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                frame = await self.ws.receive(timeout=remaining)
            except TimeoutError:
                break
            if frame.type is not aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"socket ended: {frame.type}")
            message: dict[str, Any] = json.loads(frame.data, parse_float=Decimal)
            if predicate(message):
                return message
            self._held.append(message)
        raise AssertionError("expected message did not arrive")


async def _connect(server: SandboxServer, session: aiohttp.ClientSession) -> PrivateSocket:
    client = SpotAsyncClient(key=DEV_API_KEY, secret=DEV_API_SECRET, url=server.rest_url)
    try:
        token = (await client.request("POST", "/0/private/GetWebSocketsToken"))["token"]
    finally:
        await client.close()
    return PrivateSocket(await session.ws_connect(server.ws_auth_url + "/v2"), str(token))


def _limit(**overrides: Any) -> dict[str, Any]:
    return {
        "order_type": "limit",
        "side": "buy",
        "order_qty": 0.01,
        "limit_price": 40000.0,
        **overrides,
    }


def _balance_update(message: dict[str, Any]) -> bool:
    return message.get("channel") == "balances" and message.get("type") == "update"


async def test_a_fill_streams_one_balances_update_per_leg_with_its_own_ledger_id(
    quiet: SandboxServer,
) -> None:
    """docs.kraken.com/api/docs/websocket-v2/balances ("an update will be streamed on each
    completed transaction": `ledger_id`, `ref_id`, `timestamp`, `type`, `asset`,
    `asset_class`, `category`, `wallet_type`, `wallet_id`, `amount`, `fee`, `balance`;
    the snapshot carries `wallets`) and the trade payload of krakenfx/kraken-api-sdk
    rust/src/api/account/ws_types.rs (`type` and `category` `trade`, `wallet_type` `spot`,
    `wallet_id` `main`). The legs are the entries REST Ledgers lists for the fill."""
    quiet.venue.place_synthetic("BTC/USD", Side.SELL, D("60000.0"), D(1))
    async with aiohttp.ClientSession() as session:
        ws = await _connect(quiet, session)
        await ws.request("subscribe", 1, channel="balances")
        snapshot = await ws.next(
            lambda m: m.get("channel") == "balances" and m.get("type") == "snapshot"
        )
        usd = next(item for item in snapshot["data"] if item["asset"] == "USD")
        assert usd["wallets"] == [{"type": "spot", "id": "main", "balance": D("100000")}]
        added = await ws.request(
            "add_order", 2, order_type="market", side="buy", order_qty=0.01, symbol="BTC/USD"
        )
        assert added["success"] is True
        legs = [(await ws.next(_balance_update))["data"] for _ in range(2)]
    items = {item["asset"]: item for data in legs for item in data}
    (fill,) = quiet.venue.trades_history(DEV_API_KEY).items
    btc, usd_leg = items["BTC"], items["USD"]
    for item in (btc, usd_leg):
        assert LEDGER_ID.match(item["ledger_id"])
        assert item["ref_id"] == fill.trade_id
        assert (item["type"], item["category"]) == ("trade", "trade")
        assert (item["wallet_type"], item["wallet_id"], item["asset_class"]) == (
            "spot",
            "main",
            "currency",
        )
        assert item["timestamp"].endswith("Z")
    assert btc["ledger_id"] != usd_leg["ledger_id"]
    assert (btc["amount"], btc["fee"], btc["balance"]) == (D("0.01"), 0, D("2.01"))
    assert (usd_leg["amount"], usd_leg["fee"], usd_leg["balance"]) == (
        D("-600.00"),
        D("2.400"),
        D("99397.600"),
    )
    rest_ids = {entry.ledger_id for entry in quiet.venue.ledgers(DEV_API_KEY).items}
    assert rest_ids == {btc["ledger_id"], usd_leg["ledger_id"]}


async def test_batch_add_places_every_order_and_answers_them_in_request_order(
    quiet: SandboxServer,
) -> None:
    """docs.kraken.com/api/docs/websocket-v2/batch_add: 2 to 15 orders on one `symbol`, in
    the shape of Kraken's request example (`order_userref` per order, `symbol` outside);
    the result lists each order's `order_id` with its client ids."""
    async with aiohttp.ClientSession() as session:
        ws = await _connect(quiet, session)
        answer = await ws.request(
            "batch_add",
            3,
            symbol="BTC/USD",
            orders=[
                _limit(order_userref=1),
                _limit(side="sell", limit_price=90000.0, cl_ord_id="batch-sell-1"),
            ],
        )
    assert answer["success"] is True
    first, second = answer["result"]
    assert first["order_userref"] == 1 and second["cl_ord_id"] == "batch-sell-1"
    open_ids = {order.txid for order in quiet.venue.open_orders(DEV_API_KEY)}
    assert open_ids == {first["order_id"], second["order_id"]}


async def test_batch_add_rejects_the_whole_batch_when_one_order_fails_validation(
    quiet: SandboxServer,
) -> None:
    """batch_add page: "If an order fails validation, the whole batch will be rejected"."""
    async with aiohttp.ClientSession() as session:
        ws = await _connect(quiet, session)
        answer = await ws.request(
            "batch_add",
            4,
            symbol="BTC/USD",
            orders=[_limit(), _limit(limit_price=40000.05)],
        )
        validated = await ws.request(
            "batch_add", 5, symbol="BTC/USD", validate=True, orders=[_limit(), _limit()]
        )
        too_few = await ws.request("batch_add", 6, symbol="BTC/USD", orders=[_limit()])
    assert answer["success"] is False
    assert answer["error"] == "EOrder:Tick size check failed"
    assert validated["success"] is True
    assert [entry["order_id"] for entry in validated["result"]] == ["", ""]
    assert too_few["success"] is False
    assert quiet.venue.open_orders(DEV_API_KEY) == []


async def test_batch_add_refuses_only_the_order_that_fails_funding_and_keeps_its_siblings(
    quiet: SandboxServer,
) -> None:
    """batch_add page: "if an order fails pre-match checks (i.e. funding), then the
    individual order will be rejected and remainder of the batch will be processed"."""
    async with aiohttp.ClientSession() as session:
        ws = await _connect(quiet, session)
        answer = await ws.request(
            "batch_add",
            7,
            symbol="BTC/USD",
            orders=[_limit(order_qty=3.0), _limit(order_qty=0.01, order_userref=9)],
        )
    assert answer["success"] is True
    refused, placed = answer["result"]
    assert refused == {"error": "EOrder:Insufficient funds"}
    assert placed["order_userref"] == 9
    assert [o.txid for o in quiet.venue.open_orders(DEV_API_KEY)] == [placed["order_id"]]


async def test_batch_cancel_cancels_by_order_id_userref_and_cl_ord_id_and_counts_them(
    quiet: SandboxServer,
) -> None:
    """docs.kraken.com/api/docs/websocket-v2/batch_cancel: `orders` holds Kraken order ids
    or `order_userref`s as strings (its example: "1", "2", "ORDERX-IDXXX-XXXXX3"),
    `cl_ord_id` client ids; the result is `{"count": <orders cancelled>}`."""
    async with aiohttp.ClientSession() as session:
        ws = await _connect(quiet, session)
        placed = await ws.request(
            "batch_add",
            8,
            symbol="BTC/USD",
            orders=[
                _limit(),
                _limit(limit_price=39000.0, order_userref=2),
                _limit(limit_price=38000.0, cl_ord_id="keep-me-not"),
                _limit(limit_price=37000.0),
            ],
        )
        by_id = placed["result"][0]["order_id"]
        survivor = placed["result"][3]["order_id"]
        cancelled = await ws.request(
            "batch_cancel", 9, orders=[by_id, "2"], cl_ord_id=["keep-me-not"]
        )
        alone = await ws.request("batch_cancel", 10, orders=[survivor])
    assert cancelled["success"] is True and cancelled["result"] == {"count": 3}
    assert alone["success"] is False
    assert [o.txid for o in quiet.venue.open_orders(DEV_API_KEY)] == [survivor]
