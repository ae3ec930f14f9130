"""Authenticated WebSocket v2 through the SDK's SpotWSClient: executions, balances and the
trading methods, with the token the SDK fetches from GetWebSocketsToken itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from kraken.spot import SpotWSClient
from sandbox_harness import SandboxThread

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET
from kraken_tui.sandbox.server import SandboxServer


class PrivateSession:
    def __init__(self, server: SandboxServer) -> None:
        self.messages: list[dict[str, Any]] = []
        self.client = SpotWSClient(
            key=DEV_API_KEY,
            secret=DEV_API_SECRET,
            callback=self._collect,
            no_public=True,
            rest_url=server.rest_url,
            auth_ws_url=server.ws_auth_url,
        )

    async def _collect(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    async def wait(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = 5.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        seen = 0
        while time.monotonic() < deadline:
            for message in self.messages[seen:]:
                if predicate(message):
                    return message
            seen = len(self.messages)
            await asyncio.sleep(0.02)
        raise AssertionError(f"no matching message among {self.messages[-5:]}")

    async def call(self, method: str, req_id: int, **params: Any) -> dict[str, Any]:
        await self.client.send_message({"method": method, "params": params, "req_id": req_id})
        return await self.wait(lambda m: m.get("method") == method and m.get("req_id") == req_id)

    def executions(self, order_id: str) -> list[str]:
        return [
            item["exec_type"]
            for m in self.messages
            if m.get("channel") == "executions" and m.get("type") == "update"
            for item in m["data"]
            if item["order_id"] == order_id
        ]


def _run(box: SandboxThread, scenario: Callable[[PrivateSession], Any]) -> None:
    assert box.server is not None
    server = box.server

    async def main() -> None:
        session = PrivateSession(server)
        await session.client.start()
        # Any subscription starts the heartbeat, which lets the SDK's close() return
        # promptly (its reader otherwise waits up to 10 s on a silent socket).
        await session.client.subscribe(params={"channel": "balances", "snapshot": False})
        try:
            await scenario(session)
        finally:
            await session.client.close()

    asyncio.run(main())


def test_resting_order_lifecycle_over_ws(quiet_sandbox: SandboxThread) -> None:
    async def scenario(s: PrivateSession) -> None:
        await s.client.subscribe(params={"channel": "executions"}, req_id=1)
        snapshot = await s.wait(lambda m: m.get("type") == "snapshot")
        assert snapshot["data"] == []
        added = await s.call(
            "add_order",
            2,
            order_type="limit",
            side="buy",
            order_qty=0.01,
            symbol="BTC/USD",
            limit_price=40000.0,
            cl_ord_id="ws-order-1",
        )
        assert added["success"] is True
        assert added["result"]["cl_ord_id"] == "ws-order-1"
        order_id = added["result"]["order_id"]
        await s.wait(lambda m: "new" in s.executions(order_id))
        amended = await s.call("amend_order", 3, order_id=order_id, limit_price=39000.0)
        assert amended["success"] is True and amended["result"]["amend_id"]
        await s.wait(lambda m: "amended" in s.executions(order_id))
        cancelled = await s.call("cancel_order", 4, order_id=[order_id])
        assert cancelled["result"] == {"order_id": order_id}
        await s.wait(lambda m: "canceled" in s.executions(order_id))
        amended_item = next(
            item
            for m in s.messages
            if m.get("channel") == "executions" and m.get("type") == "update"
            for item in m["data"]
            if item["exec_type"] == "amended"
        )
        assert amended_item["limit_price"] == 39000.0
        assert amended_item["cl_ord_id"] == "ws-order-1"
        sequences = [m["sequence"] for m in s.messages if m.get("channel") == "executions"]
        assert sequences == list(range(1, len(sequences) + 1))

    _run(quiet_sandbox, scenario)


def test_market_order_fill_reports_trade_then_filled_and_balance_change(
    quiet_sandbox: SandboxThread,
) -> None:
    assert quiet_sandbox.server is not None
    quiet_sandbox.call(
        quiet_sandbox.server.venue.place_synthetic,
        "BTC/USD",
        Side.SELL,
        Decimal("60000.0"),
        Decimal("1"),
    )

    async def scenario(s: PrivateSession) -> None:
        await s.client.subscribe(params={"channel": "executions"})
        await s.client.subscribe(params={"channel": "balances"})
        balances = await s.wait(
            lambda m: m.get("channel") == "balances" and m.get("type") == "snapshot"
        )
        assert {"asset": "BTC", "balance": 2.0}.items() <= balances["data"][0].items() or any(
            b["asset"] == "BTC" and b["balance"] == 2 for b in balances["data"]
        )
        added = await s.call(
            "add_order", 5, order_type="market", side="buy", order_qty=0.01, symbol="BTC/USD"
        )
        order_id = added["result"]["order_id"]
        await s.wait(lambda m: "filled" in s.executions(order_id))
        kinds = s.executions(order_id)
        assert kinds.index("trade") < kinds.index("filled")
        trade = next(
            item
            for m in s.messages
            if m.get("channel") == "executions"
            for item in m["data"]
            if item.get("exec_type") == "trade"
        )
        assert trade["last_qty"] == 0.01 and trade["last_price"] == 60000.0
        assert trade["liquidity_ind"] == "t"
        assert trade["fees"][0]["qty"] > 0
        update = await s.wait(
            lambda m: m.get("channel") == "balances" and m.get("type") == "update"
        )
        assert {item["asset"] for item in update["data"]} & {"BTC", "USD"}

    _run(quiet_sandbox, scenario)


def test_cancel_all_dead_man_switch_and_refusals_over_ws(quiet_sandbox: SandboxThread) -> None:
    async def scenario(s: PrivateSession) -> None:
        for req_id in (10, 11):
            added = await s.call(
                "add_order",
                req_id,
                order_type="limit",
                side="sell",
                order_qty=0.1,
                symbol="ETH/USD",
                limit_price=9000.0,
            )
            assert added["success"] is True
        cancelled = await s.call("cancel_all", 12)
        assert cancelled["result"] == {"count": 2}
        armed = await s.call("cancel_all_orders_after", 13, timeout=60)
        assert armed["result"]["triggerTime"] != "0"
        disarmed = await s.call("cancel_all_orders_after", 14, timeout=0)
        assert disarmed["result"]["triggerTime"] == "0"
        broke = await s.call(
            "add_order",
            15,
            order_type="limit",
            side="buy",
            order_qty=100.0,
            symbol="BTC/USD",
            limit_price=40000.0,
        )
        assert broke["success"] is False and broke["error"] == "EOrder:Insufficient funds"
        unknown = await s.call("cancel_order", 16, order_id=["OAAAAA-BBBBB-CCCCCC"])
        assert unknown["error"] == "EOrder:Unknown order"

    _run(quiet_sandbox, scenario)


def test_open_orders_snapshot_lists_orders_placed_before_subscribing(
    quiet_sandbox: SandboxThread,
) -> None:
    async def scenario(s: PrivateSession) -> None:
        added = await s.call(
            "add_order",
            1,
            order_type="limit",
            side="buy",
            order_qty=0.01,
            symbol="BTC/USD",
            limit_price=40000.0,
            order_userref=77,
        )
        await s.client.subscribe(params={"channel": "executions"})
        snapshot = await s.wait(
            lambda m: m.get("channel") == "executions" and m.get("type") == "snapshot"
        )
        (item,) = snapshot["data"]
        assert item["order_id"] == added["result"]["order_id"]
        assert item["order_status"] == "new" and item["order_userref"] == 77

    _run(quiet_sandbox, scenario)


def test_snapshot_states_a_partly_filled_order_without_claiming_a_fill(
    quiet_sandbox: SandboxThread,
) -> None:
    from kraken_tui.domain.enums import Side

    assert quiet_sandbox.server is not None
    venue = quiet_sandbox.server.venue

    async def scenario(s: PrivateSession) -> None:
        await s.call(
            "add_order",
            1,
            order_type="limit",
            side="buy",
            order_qty=0.02,
            symbol="BTC/USD",
            limit_price=40000.0,
        )
        await asyncio.to_thread(
            quiet_sandbox.call,
            venue.take_synthetic,
            "BTC/USD",
            Side.SELL,
            Decimal("0.01"),
            Decimal("40000"),
        )
        await s.client.subscribe(params={"channel": "executions"})
        snapshot = await s.wait(
            lambda m: m.get("channel") == "executions" and m.get("type") == "snapshot"
        )
        (item,) = snapshot["data"]
        assert item["order_status"] == "partially_filled"
        assert item["exec_type"] == "status"
        assert item["cum_qty"] == 0.01

    _run(quiet_sandbox, scenario)


def test_private_request_with_bad_token_is_refused(quiet_sandbox: SandboxThread) -> None:
    async def scenario(s: PrivateSession) -> None:
        await s.wait(lambda m: m.get("channel") == "status")
        socket = s.client._priv_conn.socket  # the SDK adds its real token; send a forged one
        await socket.send(
            '{"method":"subscribe","params":{"channel":"executions","token":"forged"},"req_id":5}'
        )
        refused = await s.wait(lambda m: m.get("req_id") == 5)
        assert refused["success"] is False and refused["error"] == "ESession:Invalid session"

    _run(quiet_sandbox, scenario)


def test_edit_order_replaces_the_order_with_a_new_id(quiet_sandbox: SandboxThread) -> None:
    async def scenario(s: PrivateSession) -> None:
        added = await s.call(
            "add_order",
            1,
            order_type="limit",
            side="buy",
            order_qty=0.01,
            symbol="BTC/USD",
            limit_price=40000.0,
        )
        original = added["result"]["order_id"]
        edited = await s.call(
            "edit_order",
            2,
            order_id=original,
            symbol="BTC/USD",
            order_qty=0.02,
            limit_price=41000.0,
        )
        assert edited["success"] is True
        assert edited["result"]["original_order_id"] == original
        assert edited["result"]["order_id"] != original
        refused = await s.call("edit_order", 3, order_id=original, order_qty=0.03)
        assert refused["error"] == "EOrder:Unknown order"

    _run(quiet_sandbox, scenario)
