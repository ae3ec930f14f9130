"""The order lifecycle as Kraken runs it, seen through python-kraken-sdk's REST client and a
raw WebSocket v2 connection (aiohttp, so the exact `executions` items are on view).

Kraken's material each test rests on:
- executions: docs.kraken.com/api/docs/websocket-v2/executions ("the fields included ...
  depend on the exec_type"; examples of `pending_new` with the order's details, a `new`
  carrying only timestamp, order_status, exec_type, the ids, and a `trade` with `fees` as
  a list of {asset, qty}); krakenfx/kraken-api-sdk rust/src/api/account/ws_types.rs tests
  (a sparse `new`; a `canceled` with cancel_reason, reason, cum_qty, cum_cost, avg_price,
  fee_usd_equiv).
- post-only that would cross: accepted with a txid, then canceled with reason
  `Post only order` (docs/shared kraken-protocol notes, section 9; QueryOrders `reason`).
- fee currency: krakenfx/api-specs spot-rest/partials/properties/oflags.yaml (`fcib`
  "prefer fee in base currency (default if selling)", `fciq` "prefer fee in quote
  currency (default if buying, mutually exclusive with `fcib`)"); TradesHistory `fee` is
  "Total fee (quote currency)" (spot-rest/schemas/objects/user/trades/trade.yaml).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from kraken.exceptions import KrakenInvalidArgumentsError
from kraken.spot import Trade, User
from sandbox_harness import SandboxThread

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET

NEW_FIELDS = {"order_id", "cl_ord_id", "exec_type", "order_status", "timestamp"}
PROGRESS_FIELDS = {"cum_qty", "cum_cost", "avg_price", "fee_usd_equiv"}


def _trade(box: SandboxThread) -> Trade:
    assert box.server is not None
    return Trade(key=DEV_API_KEY, secret=DEV_API_SECRET, url=box.server.rest_url)


def _user(box: SandboxThread) -> User:
    assert box.server is not None
    return User(key=DEV_API_KEY, secret=DEV_API_SECRET, url=box.server.rest_url)


def _offer(box: SandboxThread, side: Side, price: str, qty: str = "1") -> None:
    assert box.server is not None
    box.call(box.server.venue.place_synthetic, "BTC/USD", side, Decimal(price), Decimal(qty))


class RawExecutions:
    """A raw authenticated WebSocket subscribed to `executions` (numbers read as Decimal)."""

    def __init__(self, box: SandboxThread) -> None:
        assert box.server is not None
        self._box = box
        self._url = box.server.ws_auth_url + "/v2"
        self.items: list[dict[str, Any]] = []

    async def __aenter__(self) -> RawExecutions:
        user = _user(self._box)
        answer = await asyncio.to_thread(
            user.request, method="POST", uri="/0/private/GetWebSocketsToken"
        )
        token = answer["token"]
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(self._url)
        await self._ws.send_json(
            {"method": "subscribe", "params": {"channel": "executions", "token": token}}
        )
        await self.until(lambda: self._snapshot_seen)
        return self

    _snapshot_seen = False

    async def __aexit__(self, *_: object) -> None:
        await self._ws.close()
        await self._session.close()

    async def until(self, done: Callable[[], bool], within: float = 5.0) -> None:
        async def read() -> None:
            while not done():
                message = json.loads(await self._ws.receive_str(), parse_float=Decimal)
                if message.get("channel") != "executions":
                    continue
                if message["type"] == "snapshot":
                    self._snapshot_seen = True
                else:
                    self.items.extend(message["data"])

        await asyncio.wait_for(read(), within)

    def of(self, order_id: str) -> list[dict[str, Any]]:
        return [item for item in self.items if item["order_id"] == order_id]

    async def wait_for(self, order_id: str, exec_type: str) -> dict[str, Any]:
        await self.until(lambda: any(i["exec_type"] == exec_type for i in self.of(order_id)))
        return next(i for i in self.of(order_id) if i["exec_type"] == exec_type)


def _run(scenario: Callable[[], Any]) -> None:
    asyncio.run(scenario())


def _place(box: SandboxThread, **params: Any) -> str:
    result = _trade(box).create_order(pair="XBTUSD", **params)
    assert "txid" in result, result
    return str(result["txid"][0])


def test_post_only_order_that_would_cross_is_accepted_then_canceled_by_the_exchange(
    quiet_sandbox: SandboxThread,
) -> None:
    _offer(quiet_sandbox, Side.SELL, "60000.0")

    async def scenario() -> None:
        async with RawExecutions(quiet_sandbox) as feed:
            txid = await asyncio.to_thread(
                _place,
                quiet_sandbox,
                ordertype="limit",
                side="buy",
                volume="0.01",
                price="60000.0",
                oflags="post",
                cl_ord_id="post-cross-1",
            )
            canceled = await feed.wait_for(txid, "canceled")
            assert [i["exec_type"] for i in feed.of(txid)] == ["pending_new", "canceled"]
            assert canceled["reason"] == canceled["cancel_reason"] == "Post only order"
            assert canceled["order_status"] == "canceled" and canceled["cum_qty"] == 0
            queried = (await asyncio.to_thread(_user(quiet_sandbox).get_orders_info, txid))[txid]
            assert (queried["status"], queried["reason"]) == ("canceled", "Post only order")
            closed = (await asyncio.to_thread(_user(quiet_sandbox).get_closed_orders))["closed"]
            assert closed[txid]["reason"] == "Post only order"
            assert closed[txid]["vol_exec"] == "0.00000000"

    _run(scenario)


def test_executions_items_carry_only_the_fields_kraken_sends_for_each_exec_type(
    quiet_sandbox: SandboxThread,
) -> None:
    async def scenario() -> None:
        async with RawExecutions(quiet_sandbox) as feed:
            resting = await asyncio.to_thread(
                _place,
                quiet_sandbox,
                ordertype="limit",
                side="buy",
                volume="0.02",
                price="50000.0",
                cl_ord_id="sparse-1",
            )
            await feed.wait_for(resting, "new")
            pending, new = feed.of(resting)
            assert pending["exec_type"] == "pending_new"
            assert {"symbol", "side", "order_type", "order_qty", "limit_price"} <= pending.keys()
            assert pending["fee_ccy_pref"] == "fciq"  # Kraken's default when buying
            assert set(new) == NEW_FIELDS and new["order_status"] == "new"

            # synthetic sellers take the resting buy in two fills
            for qty in ("0.01", "0.01"):
                assert quiet_sandbox.server is not None
                quiet_sandbox.call(
                    quiet_sandbox.server.venue.take_synthetic,
                    "BTC/USD",
                    Side.SELL,
                    Decimal(qty),
                    Decimal("50000.0"),
                )
            filled = await feed.wait_for(resting, "filled")
            trades = [i for i in feed.of(resting) if i["exec_type"] == "trade"]
            assert len(trades) == 2
            for trade in trades:
                assert "order_qty" not in trade and "limit_price" not in trade
                assert trade["fees"] == [{"asset": "USD", "qty": Decimal("1.25")}]  # maker 0.25 %
                assert trade["liquidity_ind"] == "m" and trade["last_qty"] == Decimal("0.01")
                # Kraken's docs: a trade may say partially_filled even when it fills the order
                assert trade["order_status"] == "partially_filled"
            assert set(filled) == NEW_FIELDS | PROGRESS_FIELDS
            assert filled["order_status"] == "filled" and filled["cum_qty"] == Decimal("0.02")

            other = await asyncio.to_thread(
                _place,
                quiet_sandbox,
                ordertype="limit",
                side="buy",
                volume="0.01",
                price="40000.0",
                cl_ord_id="sparse-2",
            )
            await feed.wait_for(other, "new")
            await asyncio.to_thread(_trade(quiet_sandbox).cancel_order, txid=other)
            canceled = await feed.wait_for(other, "canceled")
            assert set(canceled) == NEW_FIELDS | PROGRESS_FIELDS | {"reason", "cancel_reason"}
            assert canceled["reason"] == "User requested"

    _run(scenario)


def _balances(box: SandboxThread) -> dict[str, Decimal]:
    result = _user(box).get_account_balance()
    return {asset: Decimal(value) for asset, value in result.items()}


def test_a_sell_pays_its_fee_in_base_by_default_and_in_quote_with_fciq(
    quiet_sandbox: SandboxThread,
) -> None:
    _offer(quiet_sandbox, Side.BUY, "60000.0", "2")
    before = _balances(quiet_sandbox)
    default = _place(quiet_sandbox, ordertype="market", side="sell", volume="0.1")
    after_default = _balances(quiet_sandbox)
    # taker fee 0.40 % of 0.1 BTC, charged on top of what was sold; the USD leg is whole
    assert before["XXBT"] - after_default["XXBT"] == Decimal("0.1004")
    assert after_default["ZUSD"] - before["ZUSD"] == Decimal("6000")

    quoted = _place(quiet_sandbox, ordertype="market", side="sell", volume="0.1", oflags="fciq")
    after_quoted = _balances(quiet_sandbox)
    assert after_default["XXBT"] - after_quoted["XXBT"] == Decimal("0.1")
    assert after_quoted["ZUSD"] - after_default["ZUSD"] == Decimal("6000") - Decimal("24")

    orders = _user(quiet_sandbox).get_orders_info(txid=[default, quoted])
    assert orders[default]["oflags"].split(",")[0] == "fcib"
    assert orders[quoted]["oflags"].split(",")[0] == "fciq"
    # REST reports fees in quote whichever asset paid them
    assert orders[default]["fee"] == orders[quoted]["fee"] == "24.00000"
    trades = _user(quiet_sandbox).get_trades_history()["trades"]
    assert sorted(t["fee"] for t in trades.values()) == ["24.00000", "24.00000"]


def test_a_buy_with_fcib_receives_its_base_net_of_the_fee_and_pays_the_whole_cost(
    quiet_sandbox: SandboxThread,
) -> None:
    _offer(quiet_sandbox, Side.SELL, "60000.0", "2")

    async def scenario() -> None:
        async with RawExecutions(quiet_sandbox) as feed:
            before = await asyncio.to_thread(_balances, quiet_sandbox)
            txid = await asyncio.to_thread(
                _place, quiet_sandbox, ordertype="market", side="buy", volume="0.1", oflags="fcib"
            )
            trade = await feed.wait_for(txid, "trade")
            assert trade["fees"] == [{"asset": "BTC", "qty": Decimal("0.0004")}]
            after = await asyncio.to_thread(_balances, quiet_sandbox)
            assert after["XXBT"] - before["XXBT"] == Decimal("0.0996")
            assert before["ZUSD"] - after["ZUSD"] == Decimal("6000")

    _run(scenario)


def test_fcib_and_fciq_together_are_refused(quiet_sandbox: SandboxThread) -> None:
    with pytest.raises(KrakenInvalidArgumentsError, match="Invalid arguments:oflags"):
        _trade(quiet_sandbox).create_order(
            pair="XBTUSD",
            ordertype="limit",
            side="buy",
            volume="0.01",
            price="50000.0",
            oflags="fcib,fciq",
            validate=True,
        )
