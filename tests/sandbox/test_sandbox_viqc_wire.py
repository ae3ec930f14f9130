"""Quote-sized market buys over the wire: REST `oflags=viqc` and WS v2 `cash_order_qty`
through python-kraken-sdk's unmodified clients, and viqc orders across a restart."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from kraken.exceptions import KrakenInsufficientFundsError, KrakenInvalidArgumentsError
from kraken.spot import SpotWSClient, Trade, User
from sandbox_harness import SandboxThread, sandbox_in_thread

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET
from kraken_tui.sandbox.records import OrderState
from kraken_tui.sandbox.venue import SandboxVenue

D = Decimal


def _clients(box: SandboxThread) -> tuple[Trade, User]:
    assert box.server is not None
    url = box.server.rest_url
    return (
        Trade(key=DEV_API_KEY, secret=DEV_API_SECRET, url=url),
        User(key=DEV_API_KEY, secret=DEV_API_SECRET, url=url),
    )


def _offer(box: SandboxThread, price: str, qty: str) -> None:
    assert box.server is not None
    box.call(box.server.venue.place_synthetic, "BTC/USD", Side.SELL, D(price), D(qty))


def test_rest_viqc_buy_spends_the_quote_amount_and_reports_it_as_vol(
    quiet_sandbox: SandboxThread,
) -> None:
    _offer(quiet_sandbox, "95000.0", "0.5")
    _offer(quiet_sandbox, "95000.5", "0.5")
    trade, user = _clients(quiet_sandbox)
    placed = trade.create_order(
        ordertype="market", side="buy", pair="XBTUSD", volume="60000", oflags="viqc"
    )
    assert placed["descr"]["order"] == "buy 60000.00000 USD of XBTUSD @ market"
    txid = placed["txid"][0]
    order = user.get_orders_info(txid=txid, trades=True)[txid]
    assert order["status"] == "closed"
    assert order["vol"] == "60000.00000"
    assert order["vol_exec"] == "0.63157825"
    assert order["cost"] == "59999.99950"
    assert "viqc" in order["oflags"].split(",")
    assert order["descr"]["order"] == "buy 60000.00000 USD of XBTUSD @ market"
    assert len(order["trades"]) == 2
    assert txid in user.get_closed_orders()["closed"]
    balances = user.get_account_balance()
    assert D(balances["XXBT"]) == D(2) + D("0.63157825")
    assert D(balances["ZUSD"]) == D(100_000) - D(order["cost"]) - D(order["fee"])


def test_rest_viqc_refuses_post_sell_and_limit_and_checks_funds_with_the_fee(
    quiet_sandbox: SandboxThread,
) -> None:
    _offer(quiet_sandbox, "95000.0", "2")
    trade, user = _clients(quiet_sandbox)
    refused = (
        {"ordertype": "market", "side": "buy", "oflags": "post,viqc"},
        {"ordertype": "market", "side": "sell", "oflags": "viqc"},
        {"ordertype": "limit", "side": "buy", "oflags": "viqc", "price": "95000.0"},
    )
    for fields in refused:
        with pytest.raises(KrakenInvalidArgumentsError, match="oflags"):
            trade.create_order(pair="XBTUSD", volume="1000", **fields)
    with pytest.raises(KrakenInsufficientFundsError):
        trade.create_order(
            ordertype="market", side="buy", pair="XBTUSD", volume="100000", oflags="viqc"
        )
    checked = trade.create_order(
        ordertype="market",
        side="buy",
        pair="XBTUSD",
        volume="1000",
        oflags="fciq,viqc",
        validate=True,
    )
    assert "txid" not in checked
    assert user.get_closed_orders()["count"] == 0


def test_rest_batch_takes_viqc_per_order(quiet_sandbox: SandboxThread) -> None:
    _offer(quiet_sandbox, "95000.0", "1")
    trade, user = _clients(quiet_sandbox)
    result = trade.create_order_batch(
        orders=[
            {"ordertype": "market", "type": "buy", "volume": "950", "oflags": "viqc"},
            {"ordertype": "limit", "type": "buy", "volume": "0.01", "price": "90000.0"},
        ],
        pair="XBTUSD",
    )
    quote_buy, resting = result["orders"]
    assert quote_buy["descr"]["order"] == "buy 950.00000 USD of XBTUSD @ market"
    order = user.get_orders_info(txid=quote_buy["txid"])[quote_buy["txid"]]
    assert order["vol_exec"] == "0.01000000"
    assert set(user.get_open_orders()["open"]) == {resting["txid"]}


class PrivateSession:
    def __init__(self, box: SandboxThread) -> None:
        assert box.server is not None
        self.messages: list[dict[str, Any]] = []
        self.client = SpotWSClient(
            key=DEV_API_KEY,
            secret=DEV_API_SECRET,
            callback=self._collect,
            no_public=True,
            rest_url=box.server.rest_url,
            auth_ws_url=box.server.ws_auth_url,
        )

    async def _collect(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    async def wait(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            for message in self.messages:
                if predicate(message):
                    return message
            await asyncio.sleep(0.02)
        raise AssertionError(f"no matching message among {self.messages[-5:]}")

    async def call(self, req_id: int, **params: Any) -> dict[str, Any]:
        request = {"method": "add_order", "params": params, "req_id": req_id}
        await self.client.send_message(request)
        return await self.wait(lambda m: m.get("req_id") == req_id)

    def execution_items(self, order_id: str) -> list[dict[str, Any]]:
        return [
            item
            for m in self.messages
            if m.get("channel") == "executions" and m.get("type") == "update"
            for item in m["data"]
            if item["order_id"] == order_id
        ]


def _run_ws(box: SandboxThread, scenario: Callable[[PrivateSession], Awaitable[None]]) -> None:
    async def main() -> None:
        session = PrivateSession(box)
        await session.client.start()
        await session.client.subscribe(params={"channel": "executions"})
        await session.wait(lambda m: m.get("channel") == "executions")
        try:
            await scenario(session)
        finally:
            await session.client.close()

    asyncio.run(main())


def test_ws_add_order_with_cash_order_qty_reports_it_in_executions(
    quiet_sandbox: SandboxThread,
) -> None:
    _offer(quiet_sandbox, "95000.0", "1")

    async def scenario(s: PrivateSession) -> None:
        added = await s.call(
            1, order_type="market", side="buy", symbol="BTC/USD", cash_order_qty=1000
        )
        assert added["success"] is True
        order_id = added["result"]["order_id"]
        await s.wait(lambda _: "filled" in [i["exec_type"] for i in s.execution_items(order_id)])
        items = s.execution_items(order_id)
        assert [i["exec_type"] for i in items] == ["pending_new", "new", "trade", "filled"]
        # the order's size is on pending_new only: later items are sparse, as on Kraken
        assert items[0]["cash_order_qty"] == 1000 and "order_qty" not in items[0]
        assert not any("cash_order_qty" in i or "order_qty" in i for i in items[1:])
        trade_item = items[2]
        assert trade_item["last_qty"] == pytest.approx(0.01052631)
        assert trade_item["last_price"] == 95000.0
        assert items[-1]["cum_qty"] == pytest.approx(0.01052631)
        assert items[-1]["cum_cost"] == pytest.approx(999.9994)
        assert items[-1]["order_status"] == "filled"

    _run_ws(quiet_sandbox, scenario)


def test_ws_add_order_needs_exactly_one_size_and_cash_only_for_market_buys(
    quiet_sandbox: SandboxThread,
) -> None:
    _offer(quiet_sandbox, "95000.0", "1")
    market_buy = {"order_type": "market", "side": "buy", "symbol": "BTC/USD"}

    async def scenario(s: PrivateSession) -> None:
        both = await s.call(1, **market_buy, cash_order_qty=1000, order_qty=0.01)
        assert both["error"] == "EGeneral:Invalid arguments:cash_order_qty"
        neither = await s.call(2, **market_buy)
        assert neither["error"] == "EGeneral:Invalid arguments:order_qty"
        sell = await s.call(3, **{**market_buy, "side": "sell"}, cash_order_qty=1000)
        assert sell["error"] == "EGeneral:Invalid arguments:cash_order_qty"
        too_small = await s.call(4, **market_buy, cash_order_qty=0.4)
        assert too_small["error"] == "EOrder:Cost minimum not met"

    _run_ws(quiet_sandbox, scenario)


def test_closed_viqc_order_keeps_its_flag_across_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    with sandbox_in_thread(rate=0, state_path=state) as box:
        _offer(box, "95000.0", "1")
        trade, _ = _clients(box)
        txid = trade.create_order(
            ordertype="market", side="buy", pair="XBTUSD", volume="1000", oflags="viqc"
        )["txid"][0]
    with sandbox_in_thread(rate=0, state_path=state) as box:
        _, user = _clients(box)
        order = user.get_closed_orders()["closed"][txid]
        assert order["vol"] == "1000.00000"
        assert order["vol_exec"] == "0.01052631"
        assert "viqc" in order["oflags"].split(",")


def test_state_file_written_before_viqc_existed_opens_and_stores_viqc_orders(
    tmp_path: Path,
) -> None:
    state = tmp_path / "old.sqlite"
    venue = SandboxVenue(state_path=state)
    venue.open_account("alice")
    venue.close()
    with sqlite3.connect(state) as db:
        db.execute("ALTER TABLE orders DROP COLUMN volume_in_quote")
    venue = SandboxVenue(state_path=state)
    venue.place_synthetic("BTC/USD", Side.SELL, D("95000.0"), D("1"))
    txid = venue.add_order(
        "alice",
        pair="XBTUSD",
        side="buy",
        order_type="market",
        volume="1000",
        volume_in_quote=True,
    ).txid
    assert txid is not None
    venue.close()
    reopened = SandboxVenue(state_path=state)
    [order] = reopened.query_orders("alice", [txid])
    assert order.volume_in_quote and order.status is OrderState.CLOSED
    assert (order.volume, order.vol_exec) == (D("1000"), D("0.01052631"))
    reopened.close()
