"""Each injected fault, set through the loopback control endpoint and observed by a client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import aiohttp
import pytest
from kraken.exceptions import KrakenApiLimitExceededError, KrakenRateLimitExceededError
from kraken.spot import SpotAsyncClient, SpotWSClient
from sandbox_harness import running_sandbox

from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET
from kraken_tui.sandbox.server import FAULTS_PATH, SandboxServer, is_loopback


@pytest.fixture
async def box() -> AsyncIterator[SandboxServer]:
    async with running_sandbox(rate=0) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _set(http: aiohttp.ClientSession, box: SandboxServer, **faults: object) -> dict:
    async with http.post(box.rest_url + FAULTS_PATH, json=faults) as response:
        assert response.status == 200
        return await response.json()


def _client(box: SandboxServer) -> SpotAsyncClient:
    return SpotAsyncClient(key=DEV_API_KEY, secret=DEV_API_SECRET, url=box.rest_url)


async def _limit_order(client: SpotAsyncClient) -> dict:
    params = {
        "ordertype": "limit",
        "type": "buy",
        "volume": "0.01",
        "pair": "XBTUSD",
        "price": "40000.0",
    }
    return await client.request("POST", "/0/private/AddOrder", params=params)


async def test_control_endpoint_reports_state_and_refuses_unknown_faults(
    box: SandboxServer, http: aiohttp.ClientSession
) -> None:
    state = await _set(http, box, reject_orders=2)
    assert state["reject_orders"] == 2
    async with http.get(box.rest_url + FAULTS_PATH) as response:
        assert (await response.json())["reject_orders"] == 2
    async with http.post(box.rest_url + FAULTS_PATH, json={"meteor": 1}) as response:
        assert response.status == 400


def test_only_loopback_peers_may_control_faults() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1")
    assert not is_loopback("192.168.1.5") and not is_loopback(None)


async def test_reject_next_orders_then_accept(
    box: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await _set(http, box, reject_orders=2, reject_error="EService:Unavailable")
    client = _client(box)
    try:
        for _ in range(2):
            with pytest.raises(Exception, match="EService:Unavailable"):
                await _limit_order(client)
        assert (await _limit_order(client))["txid"]
    finally:
        await client.close()


async def test_injected_rate_limit_errors(box: SandboxServer, http: aiohttp.ClientSession) -> None:
    await _set(http, box, rate_limit=2)
    client = _client(box)
    try:
        with pytest.raises(KrakenApiLimitExceededError):
            await client.request("POST", "/0/private/Balance")
        with pytest.raises(KrakenRateLimitExceededError):
            await _limit_order(client)
        assert "ZUSD" in await client.request("POST", "/0/private/Balance")
    finally:
        await client.close()


async def test_rest_answers_5xx_then_recovers(
    box: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await _set(http, box, rest_5xx=1, rest_5xx_status=502)
    async with http.get(box.rest_url + "/0/public/Time") as response:
        assert response.status == 502
    async with http.get(box.rest_url + "/0/public/Time") as response:
        assert response.status == 200 and (await response.json())["error"] == []


async def test_stall_holds_rest_answers(box: SandboxServer, http: aiohttp.ClientSession) -> None:
    await _set(http, box, stall_s=0.4)
    started = time.monotonic()
    async with http.get(box.rest_url + "/0/public/Time") as response:
        assert response.status == 200
    assert time.monotonic() - started >= 0.35


async def test_stall_holds_websocket_output(
    box: SandboxServer, http: aiohttp.ClientSession
) -> None:
    ws = await _status_socket(http, box)
    await _set(http, box, stall_s=0.4)
    started = time.monotonic()
    await ws.send_json({"method": "ping", "req_id": 4})
    assert (await ws.receive_json(timeout=3))["req_id"] == 4
    assert time.monotonic() - started >= 0.35
    await ws.close()


async def _status_socket(
    http: aiohttp.ClientSession, box: SandboxServer
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(box.ws_url + "/v2")
    first = await ws.receive_json(timeout=2)
    assert first["channel"] == "status"
    return ws


async def test_drop_ws_closes_connections(box: SandboxServer, http: aiohttp.ClientSession) -> None:
    ws = await _status_socket(http, box)
    state = await _set(http, box, drop_ws="all")
    assert state["dropped_connections"] == 1
    frame = await ws.receive(timeout=2)
    assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_sdk_ws_client_reconnects_and_resubscribes_after_a_drop(
    box: SandboxServer, http: aiohttp.ClientSession
) -> None:
    snapshots: list[dict] = []

    async def on_message(message: dict) -> None:
        if message.get("channel") == "book" and message.get("type") == "snapshot":
            snapshots.append(message)

    client = SpotWSClient(callback=on_message, ws_url=box.ws_url, rest_url=box.rest_url)
    await client.start()
    try:
        await client.subscribe(params={"channel": "book", "symbol": ["BTC/USD"]})
        await _until(lambda: len(snapshots) == 1)
        state = await _set(http, box, drop_ws="public")
        assert state["dropped_connections"] == 1
        await _until(lambda: len(snapshots) == 2, within=15)
    finally:
        await client.close()


async def _until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_delay_holds_each_ws_message(box: SandboxServer, http: aiohttp.ClientSession) -> None:
    ws = await _status_socket(http, box)
    await _set(http, box, ws_delay_ms=300)
    started = time.monotonic()
    await ws.send_json({"method": "ping", "req_id": 1})
    pong = await ws.receive_json(timeout=2)
    assert pong["method"] == "pong"
    assert time.monotonic() - started >= 0.28
    await ws.close()


async def test_reorder_swaps_the_next_pair_of_messages(
    box: SandboxServer, http: aiohttp.ClientSession
) -> None:
    ws = await _status_socket(http, box)
    await _set(http, box, ws_reorder=1)
    for req_id in (1, 2):
        await ws.send_json({"method": "ping", "req_id": req_id})
        await asyncio.sleep(0.02)
    replies = [(await ws.receive_json(timeout=2))["req_id"] for _ in range(2)]
    assert replies == [2, 1]
    await ws.close()


async def test_message_held_for_reordering_is_released_when_nothing_follows(
    box: SandboxServer, http: aiohttp.ClientSession
) -> None:
    ws = await _status_socket(http, box)
    await _set(http, box, ws_reorder=1)
    await ws.send_json({"method": "ping", "req_id": 1})
    pong = await ws.receive_json(timeout=3)
    assert pong["req_id"] == 1
    await ws.close()


async def test_faults_from_configuration_apply_at_start() -> None:
    async with running_sandbox(rate=0, faults={"reject_orders": 1}) as server:
        client = _client(server)
        try:
            with pytest.raises(Exception, match="EService:Unavailable"):
                await _limit_order(client)
            balance = await client.request("POST", "/0/private/Balance")
            assert Decimal(balance["ZUSD"]) > 0
        finally:
            await client.close()
