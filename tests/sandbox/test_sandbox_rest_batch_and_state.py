"""Batch endpoints, trigger orders, and orders that outlive a sandbox restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from kraken.spot import Trade, User
from sandbox_harness import SandboxThread, sandbox_in_thread

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET


def _clients(box: SandboxThread) -> tuple[Trade, User]:
    assert box.server is not None
    url = box.server.rest_url
    return (
        Trade(key=DEV_API_KEY, secret=DEV_API_SECRET, url=url),
        User(key=DEV_API_KEY, secret=DEV_API_SECRET, url=url),
    )


def test_add_order_batch_reports_each_order_and_cancel_batch_removes_them(
    quiet_sandbox: SandboxThread,
) -> None:
    trade, user = _clients(quiet_sandbox)
    result = trade.create_order_batch(
        orders=[
            {
                "ordertype": "limit",
                "type": "buy",
                "volume": "0.01",
                "price": "40000.0",
                "cl_ord_id": "batch-a",
            },
            {"ordertype": "limit", "type": "buy", "volume": "0.01", "price": "40000.05"},
            {"ordertype": "limit", "type": "sell", "volume": "0.01", "price": "90000.0"},
        ],
        pair="XBTUSD",
    )
    first, off_tick, third = result["orders"]
    assert first["cl_ord_id"] == "batch-a" and first["txid"]
    assert off_tick == {"error": "EOrder:Tick size check failed"}
    assert set(user.get_open_orders()["open"]) == {first["txid"], third["txid"]}
    cancelled = trade.cancel_order_batch(orders=[first["txid"]])
    assert cancelled["count"] == 1
    assert set(user.get_open_orders()["open"]) == {third["txid"]}


def test_stop_loss_order_rests_untriggered_with_its_trigger_as_price(
    quiet_sandbox: SandboxThread,
) -> None:
    trade, user = _clients(quiet_sandbox)
    txid = trade.create_order(
        ordertype="stop-loss", side="sell", pair="XBTUSD", volume="0.01", price="30000.0"
    )["txid"][0]
    order = user.get_open_orders()["open"][txid]
    assert order["descr"]["ordertype"] == "stop-loss"
    assert order["descr"]["price"] == "30000.0"
    assert order["stopprice"] == "30000.0"


def test_ioc_limit_order_that_cannot_fill_does_not_rest(quiet_sandbox: SandboxThread) -> None:
    trade, user = _clients(quiet_sandbox)
    txid = trade.create_order(
        ordertype="limit",
        side="buy",
        pair="XBTUSD",
        volume="0.01",
        price="40000.0",
        timeinforce="IOC",
    )["txid"][0]
    assert user.get_open_orders()["open"] == {}
    assert user.get_orders_info(txid=txid)[txid]["status"] in {"canceled", "expired"}


def test_open_orders_and_fills_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    with sandbox_in_thread(rate=0, state_path=state) as box:
        assert box.server is not None
        box.call(
            box.server.venue.place_synthetic,
            "BTC/USD",
            Side.SELL,
            Decimal("60000.0"),
            Decimal("1"),
        )
        trade, _ = _clients(box)
        resting = trade.create_order(
            ordertype="limit", side="buy", pair="XBTUSD", volume="0.01", price="40000.0"
        )["txid"][0]
        filled = trade.create_order(ordertype="market", side="buy", pair="XBTUSD", volume="0.01")[
            "txid"
        ][0]
    with sandbox_in_thread(rate=0, state_path=state) as box:
        _, user = _clients(box)
        assert resting in user.get_open_orders()["open"]
        history = user.get_trades_history()["trades"]
        assert [fill["ordertxid"] for fill in history.values()] == [filled]
        assert Decimal(user.get_account_balance()["XXBT"]) == Decimal("2.01")
