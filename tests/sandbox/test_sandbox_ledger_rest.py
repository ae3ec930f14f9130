"""Ledger and trade history over REST, driven by python-kraken-sdk's own `User` and `Market`
(issue 15, points 2 and 4): TradesHistory, QueryTrades, Ledgers, QueryLedgers, OrderAmends
and Assets, each compared with Kraken's published material, cited per test.

A fill of 0.01 BTC at 60000.0 costs 600 USD; a taker pays 0.40 % of it, 2.4 USD, in the
quote currency by default when buying (docs.kraken.com/api/docs/rest-api/add-order,
`oflags` fciq/fcib).
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from kraken.spot import Market, Trade, User
from sandbox_harness import SandboxThread, sandbox_in_thread

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET

LEDGER_ID = re.compile(r"^L[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}$")


def _user(box: SandboxThread) -> User:
    assert box.server is not None
    return User(key=DEV_API_KEY, secret=DEV_API_SECRET, url=box.server.rest_url)


def _trade(box: SandboxThread) -> Trade:
    assert box.server is not None
    return Trade(key=DEV_API_KEY, secret=DEV_API_SECRET, url=box.server.rest_url)


def _buy_btc(box: SandboxThread, price: str = "60000.0", volume: str = "0.01") -> str:
    """A market buy filled by synthetic liquidity; returns the order's txid."""
    assert box.server is not None
    box.call(box.server.venue.place_synthetic, "BTC/USD", Side.SELL, Decimal(price), Decimal(1))
    result: dict[str, Any] = _trade(box).create_order(
        ordertype="market", side="buy", pair="XBTUSD", volume=volume
    )
    return str(result["txid"][0])


def test_trades_history_names_the_rest_pair_key_and_carries_aclass_and_the_fills_ledgers(
    quiet_sandbox: SandboxThread,
) -> None:
    """api-specs spot-rest/openapi_v3.yaml TradesHistory example (`pair` `XXBTZUSD`, `time`
    a number, `trade_id` an integer, `maker` a boolean), objects/user/trades/trade.yaml
    (`ledgers`: "List of ledger ids for entries associated with trade"), and the official
    SDK's TradeHistoryEntry (krakenfx/kraken-api-sdk rust/src/api/account/types.rs:
    `aclass`, `leverage`, `tradeordertype`; "two legs per spot fill")."""
    txid = _buy_btc(quiet_sandbox)
    history = _user(quiet_sandbox).get_trades_history(ledgers=True)
    assert history["count"] == 1
    ((trade_id, fill),) = history["trades"].items()
    assert fill["ordertxid"] == txid
    assert fill["pair"] == "XXBTZUSD"
    assert fill["aclass"] == "currency"
    assert (fill["type"], fill["ordertype"], fill["tradeordertype"]) == ("buy", "market", "market")
    assert isinstance(fill["time"], float)
    assert (fill["price"], fill["vol"], fill["cost"], fill["fee"]) == (
        "60000.0",
        "0.01000000",
        "600.00000",
        "2.40000",
    )
    assert (fill["margin"], fill["leverage"], fill["misc"], fill["maker"]) == (
        "0.00000",
        "0",
        "",
        False,
    )
    assert isinstance(fill["trade_id"], int) and fill["postxid"].startswith("T")
    assert len(fill["ledgers"]) == 2 and all(LEDGER_ID.match(i) for i in fill["ledgers"])
    without = _user(quiet_sandbox).get_trades_history()["trades"][trade_id]
    assert "ledgers" not in without


def test_each_leg_of_a_fill_is_its_own_ledger_entry_with_the_fee_apart_from_the_amount(
    quiet_sandbox: SandboxThread,
) -> None:
    """api-specs openapi_v3.yaml Ledgers/QueryLedgers examples: one entry per asset with
    `refid` the trade, `type` `trade`, `subtype` "", `aclass` `currency`, `asset` the REST
    code, `amount` and `fee` apart, `balance` after it, amounts as strings."""
    _buy_btc(quiet_sandbox)
    user = _user(quiet_sandbox)
    ((trade_id, fill),) = user.get_trades_history(ledgers=True)["trades"].items()
    entries = user.get_ledgers(id_=fill["ledgers"])
    assert set(entries) == set(fill["ledgers"])
    by_asset = {entry["asset"]: entry for entry in entries.values()}
    assert by_asset["XXBT"] == {
        "refid": trade_id,
        "time": fill["time"],
        "type": "trade",
        "subtype": "",
        "aclass": "currency",
        "asset": "XXBT",
        "amount": "0.0100000000",
        "fee": "0.0000000000",
        "balance": "2.0100000000",
    }
    usd = by_asset["ZUSD"]
    assert (usd["refid"], usd["amount"], usd["fee"], usd["balance"]) == (
        trade_id,
        "-600.0000",
        "2.4000",
        "99397.6000",
    )
    assert user.get_account_balance()["ZUSD"] == usd["balance"]


def test_ledgers_page_newest_first_and_filter_by_asset_type_and_bounds(
    quiet_sandbox: SandboxThread,
) -> None:
    """api-specs spot-rest/schemas/requests/user/ledgers/info.yaml: `asset` (comma list),
    `type` (default all), `start` exclusive and `end` inclusive (unix time or ledger id),
    `ofs` paging; responses/user/ledgers/info.yaml: `{ledger: {...}, count}`."""
    _buy_btc(quiet_sandbox, price="60000.0")
    _buy_btc(quiet_sandbox, price="61000.0")
    user = _user(quiet_sandbox)
    everything = user.get_ledgers_info()
    assert everything["count"] == 4
    ids = list(everything["ledger"])
    times = [entry["time"] for entry in everything["ledger"].values()]
    assert times == sorted(times, reverse=True)
    btc = user.get_ledgers_info(asset="XBT")
    assert btc["count"] == 2
    assert {entry["asset"] for entry in btc["ledger"].values()} == {"XXBT"}
    assert [e["balance"] for e in btc["ledger"].values()] == ["2.0200000000", "2.0100000000"]
    assert user.get_ledgers_info(asset="XXBT,ZUSD")["count"] == 4
    assert user.get_ledgers_info(type_="deposit") == {"ledger": {}, "count": 0}
    assert user.get_ledgers_info(type_="trade")["count"] == 4
    second_page = user.get_ledgers_info(ofs=3)
    assert list(second_page["ledger"]) == ids[3:] and second_page["count"] == 4
    after_first_trade = user.get_ledgers_info(start=ids[-1])  # both legs share its time
    assert list(after_first_trade["ledger"]) == ids[:2]
    up_to_first_trade = user.get_ledgers_info(end=ids[-1])
    assert list(up_to_first_trade["ledger"]) == ids[2:]
    assert user.get_ledgers_info(start=int(min(times)) - 1)["count"] == 4
    assert user.get_ledgers_info(end=int(min(times)) - 1)["count"] == 0


def test_query_trades_answers_the_named_fills_keyed_by_trade_id(
    quiet_sandbox: SandboxThread,
) -> None:
    """api-specs openapi_v3.yaml /private/QueryTrades: `txid` comma list (20 at most), result
    keyed by trade id with TradesHistory's fields."""
    _buy_btc(quiet_sandbox, price="60000.0")
    _buy_btc(quiet_sandbox, price="61000.0")
    user = _user(quiet_sandbox)
    history = user.get_trades_history()["trades"]
    newest = next(iter(history))
    assert user.get_trades_info(txid=newest) == {newest: history[newest]}
    assert set(user.get_trades_info(txid=list(history))) == set(history)


def test_ledger_entries_survive_a_restart_of_the_sandbox(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.sqlite"
    with sandbox_in_thread(state_path=state, rate=0) as box:
        _buy_btc(box)
        before = _user(box).get_ledgers_info()
    with sandbox_in_thread(state_path=state, rate=0) as box:
        assert _user(box).get_ledgers_info() == before
        ((_, fill),) = _user(box).get_trades_history(ledgers=True)["trades"].items()
        assert set(fill["ledgers"]) == set(before["ledger"])


def test_order_amends_lists_the_original_order_then_each_user_amend(
    quiet_sandbox: SandboxThread,
) -> None:
    """api-specs openapi_v3.yaml /private/OrderAmends and schemas/responses/user/orders/
    amends.yaml: `amends` oldest first, the first `original`, then `user` amends, each with
    `amend_id`, `order_qty`, `remaining_qty`, `limit_price` and an integer `timestamp`;
    `count` includes the original."""
    trade = _trade(quiet_sandbox)
    txid = trade.create_order(
        ordertype="limit", side="buy", pair="XBTUSD", volume="0.01", price="40000.0"
    )["txid"][0]
    user = _user(quiet_sandbox)
    untouched = user.get_order_amends(order_id=txid)
    assert untouched["count"] == 1
    (original,) = untouched["amends"]
    assert (original["amend_type"], original["order_qty"], original["limit_price"]) == (
        "original",
        "0.01000000",
        "40000.0",
    )
    amend_id = trade.amend_order(txid=txid, limit_price="39000.0")["amend_id"]
    trade.amend_order(txid=txid, order_qty="0.005")
    amends = user.get_order_amends(order_id=txid)
    assert amends["count"] == 3
    assert [a["amend_type"] for a in amends["amends"]] == ["original", "user", "user"]
    assert amends["amends"][0] == original
    assert amends["amends"][1]["amend_id"] == amend_id
    assert amends["amends"][1]["limit_price"] == "39000.0"
    assert amends["amends"][2]["order_qty"] == amends["amends"][2]["remaining_qty"] == "0.00500000"
    stamps = [a["timestamp"] for a in amends["amends"]]
    assert all(isinstance(s, int) for s in stamps) and stamps == sorted(stamps)


def test_assets_give_zusd_the_altname_usd_with_krakens_fields(
    quiet_sandbox: SandboxThread,
) -> None:
    """api-specs openapi_v3.yaml /public/Assets example: ZUSD's altname is USD; fields per
    schemas/objects/public/assets/info.yaml."""
    assert quiet_sandbox.server is not None
    assets = Market(url=quiet_sandbox.server.rest_url).get_assets()
    assert assets["ZUSD"] == {
        "aclass": "currency",
        "altname": "USD",
        "decimals": 4,
        "display_decimals": 2,
        "collateral_value": 1.0,
        "status": "enabled",
    }
    assert assets["XXBT"]["altname"] == "XBT"
