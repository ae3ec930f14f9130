"""REST endpoints driven over real sockets by python-kraken-sdk's unmodified clients."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import requests
from kraken.exceptions import (
    KrakenInsufficientFundsError,
    KrakenInvalidAPIKeyError,
    KrakenInvalidNonceError,
    KrakenInvalidSignatureError,
    KrakenOrderMinimumNotMetError,
    KrakenTickSizeInvalidCheckError,
    KrakenUnknownAssetError,
    KrakenUnknownAssetPairError,
    KrakenUnknownOrderError,
)
from kraken.spot import Market, SpotClient, Trade, User
from sandbox_harness import SandboxThread

from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET, kraken_signature


def _trade(box: SandboxThread) -> Trade:
    assert box.server is not None
    return Trade(key=DEV_API_KEY, secret=DEV_API_SECRET, url=box.server.rest_url)


def _user(box: SandboxThread) -> User:
    assert box.server is not None
    return User(key=DEV_API_KEY, secret=DEV_API_SECRET, url=box.server.rest_url)


def _market(box: SandboxThread) -> Market:
    assert box.server is not None
    return Market(url=box.server.rest_url)


def test_asset_pairs_by_ws_name_is_keyed_by_that_name_with_checksum_precisions(
    quiet_sandbox: SandboxThread,
) -> None:
    pairs = _market(quiet_sandbox).get_asset_pairs(pair="BTC/USD")
    assert list(pairs) == ["BTC/USD"]
    assert pairs["BTC/USD"]["pair_decimals"] == 1
    assert pairs["BTC/USD"]["lot_decimals"] == 8
    assert _market(quiet_sandbox).get_asset_pairs(pair="XBTUSD").keys() == {"XXBTZUSD"}


def test_public_endpoints_answer_with_krakens_shapes(quiet_sandbox: SandboxThread) -> None:
    market = _market(quiet_sandbox)
    assert market.get_system_status()["status"] == "online"
    assert abs(market.request("GET", "/0/public/Time", auth=False)["unixtime"] - time.time()) < 5
    assert "XXBT" in market.get_assets()
    _trade(quiet_sandbox).create_order(
        ordertype="limit", side="buy", pair="XBTUSD", volume="0.01", price="50000.0"
    )
    depth = market.get_order_book(pair="XBTUSD", count=5)["XXBTZUSD"]
    assert depth["bids"][0][:2] == ["50000.0", "0.01000000"]
    ticker = market.get_ticker(pair="XBTUSD")["XXBTZUSD"]
    assert set(ticker) == {"a", "b", "c", "v", "p", "t", "l", "h", "o"}
    assert "last" in market.get_ohlc(pair="XBTUSD", interval=1)
    assert "last" in market.get_recent_trades(pair="XBTUSD")
    assert "last" in market.get_recent_spreads(pair="XBTUSD")


def test_order_lifecycle_over_rest(quiet_sandbox: SandboxThread) -> None:
    trade, user = _trade(quiet_sandbox), _user(quiet_sandbox)
    placed = trade.create_order(
        ordertype="limit",
        side="buy",
        pair="XBTUSD",
        volume="0.01",
        price="40000.0",
        userref=42,
        oflags="post",
    )
    txid = placed["txid"][0]
    opened = user.get_open_orders()["open"]
    assert opened[txid]["descr"]["price"] == "40000.0"
    assert opened[txid]["userref"] == 42
    assert "post" in opened[txid]["oflags"]
    held = user.get_balances()["ZUSD"]
    assert Decimal(held["hold_trade"]) > 0
    assert user.get_orders_info(txid=txid)[txid]["status"] == "open"
    assert trade.amend_order(txid=txid, limit_price="39000.0")["amend_id"]
    edited = trade.edit_order(txid=txid, pair="XBTUSD", volume="0.02")
    assert edited["originaltxid"] == txid
    new_txid = edited["txid"]
    assert user.get_orders_info(txid=txid)[txid]["status"] == "canceled"
    assert trade.cancel_order(txid=new_txid)["count"] == 1
    closed = user.get_closed_orders()
    assert {txid, new_txid} <= set(closed["closed"])
    assert Decimal(user.get_balances()["ZUSD"]["hold_trade"]) == 0


def test_validate_only_order_is_not_placed(quiet_sandbox: SandboxThread) -> None:
    result = _trade(quiet_sandbox).create_order(
        ordertype="limit",
        side="buy",
        pair="XBTUSD",
        volume="0.01",
        price="40000.0",
        validate=True,
    )
    assert "txid" not in result
    assert _user(quiet_sandbox).get_open_orders()["open"] == {}


def test_cancel_by_userref_and_by_cl_ord_id_and_cancel_all(quiet_sandbox: SandboxThread) -> None:
    trade, user = _trade(quiet_sandbox), _user(quiet_sandbox)
    for ref in (7, 7, 8):
        trade.create_order(
            ordertype="limit",
            side="buy",
            pair="XBTUSD",
            volume="0.01",
            price="40000.0",
            userref=ref,
        )
    trade.create_order(
        ordertype="limit",
        side="sell",
        pair="ETHUSD",
        volume="0.1",
        price="9000.00",
        cl_ord_id="my-eth-1",
    )
    assert trade.cancel_order(txid=7)["count"] == 2
    assert trade.cancel_order(cl_ord_id="my-eth-1")["count"] == 1
    assert trade.cancel_all_orders()["count"] == 1
    assert user.get_open_orders()["open"] == {}


def test_market_buy_fills_against_resting_liquidity_and_shows_in_trade_history(
    quiet_sandbox: SandboxThread,
) -> None:
    from kraken_tui.domain.enums import Side

    assert quiet_sandbox.server is not None
    quiet_sandbox.call(
        quiet_sandbox.server.venue.place_synthetic,
        "BTC/USD",
        Side.SELL,
        Decimal("60000.0"),
        Decimal("1"),
    )
    trade, user = _trade(quiet_sandbox), _user(quiet_sandbox)
    txid = trade.create_order(ordertype="market", side="buy", pair="XBTUSD", volume="0.01")["txid"][
        0
    ]
    order = user.get_orders_info(txid=txid, trades=True)[txid]
    assert order["status"] == "closed"
    assert order["vol_exec"] == "0.01000000"
    assert len(order["trades"]) == 1
    history = user.get_trades_history()
    assert history["count"] == 1
    (fill,) = history["trades"].values()
    assert fill["ordertxid"] == txid
    assert fill["price"] == "60000.0"
    assert Decimal(user.get_account_balance()["XXBT"]) == Decimal("2.01")


def test_dead_man_switch_over_rest(quiet_sandbox: SandboxThread) -> None:
    trade = _trade(quiet_sandbox)
    armed = trade.cancel_all_orders_after_x(timeout=60)
    assert armed["triggerTime"] != "0"
    assert trade.cancel_all_orders_after_x(timeout=0)["triggerTime"] == "0"


def test_ws_token_and_trade_balance(quiet_sandbox: SandboxThread) -> None:
    user = _user(quiet_sandbox)
    token = user.request("POST", "/0/private/GetWebSocketsToken")
    assert token["expires"] == 900 and token["token"]
    assert Decimal(user.get_trade_balance()["eb"]) > 0


# ---- every error case of point 2 -------------------------------------------------------


def test_unknown_api_key_is_refused(quiet_sandbox: SandboxThread) -> None:
    assert quiet_sandbox.server is not None
    stranger = User(key="nobody", secret=DEV_API_SECRET, url=quiet_sandbox.server.rest_url)
    with pytest.raises(KrakenInvalidAPIKeyError):
        stranger.get_account_balance()


def test_signature_with_wrong_secret_is_refused(quiet_sandbox: SandboxThread) -> None:
    assert quiet_sandbox.server is not None
    other_secret = (
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
    )
    forger = User(key=DEV_API_KEY, secret=other_secret, url=quiet_sandbox.server.rest_url)
    with pytest.raises(KrakenInvalidSignatureError):
        forger.get_account_balance()


def test_stale_nonce_is_refused(quiet_sandbox: SandboxThread) -> None:
    assert quiet_sandbox.server is not None
    url = quiet_sandbox.server.rest_url + "/0/private/Balance"

    def post(nonce: str) -> dict[str, object]:
        body = f"nonce={nonce}"
        headers = {
            "API-Key": DEV_API_KEY,
            "API-Sign": kraken_signature("/0/private/Balance", nonce, body, DEV_API_SECRET),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return requests.post(url, data=body, headers=headers, timeout=5).json()

    assert post("1000")["error"] == []
    assert post("1000")["error"] == ["EAPI:Invalid nonce"]
    with pytest.raises(KrakenInvalidNonceError):
        client = SpotClient(
            key=DEV_API_KEY, secret=DEV_API_SECRET, url=quiet_sandbox.server.rest_url
        )
        client.get_nonce = lambda: "999"  # type: ignore[method-assign]
        client.request("POST", "/0/private/Balance")


def test_unknown_pair_is_refused(quiet_sandbox: SandboxThread) -> None:
    # The SDK matches error prefixes, so it raises its "unknown asset" class for this string.
    unknown = (KrakenUnknownAssetError, KrakenUnknownAssetPairError)
    with pytest.raises(unknown, match="EQuery:Unknown asset pair"):
        _market(quiet_sandbox).get_ticker(pair="DOGEXYZ")
    with pytest.raises(unknown, match="EQuery:Unknown asset pair"):
        _trade(quiet_sandbox).create_order(
            ordertype="limit", side="buy", pair="DOGEXYZ", volume="1", price="1"
        )


def test_price_off_tick_size_is_refused(quiet_sandbox: SandboxThread) -> None:
    with pytest.raises(KrakenTickSizeInvalidCheckError):
        _trade(quiet_sandbox).create_order(
            ordertype="limit", side="buy", pair="XBTUSD", volume="0.01", price="40000.05"
        )


def test_volume_below_ordermin_is_refused(quiet_sandbox: SandboxThread) -> None:
    with pytest.raises(KrakenOrderMinimumNotMetError):
        _trade(quiet_sandbox).create_order(
            ordertype="limit", side="buy", pair="XBTUSD", volume="0.00001", price="40000.0"
        )


def test_insufficient_funds_is_refused(quiet_sandbox: SandboxThread) -> None:
    with pytest.raises(KrakenInsufficientFundsError):
        _trade(quiet_sandbox).create_order(
            ordertype="limit", side="buy", pair="XBTUSD", volume="10", price="40000.0"
        )


def test_unknown_order_is_refused(quiet_sandbox: SandboxThread) -> None:
    with pytest.raises(KrakenUnknownOrderError):
        _trade(quiet_sandbox).cancel_order(txid="OAAAAA-BBBBB-CCCCCC")


def test_duplicate_cl_ord_id_is_refused(quiet_sandbox: SandboxThread) -> None:
    trade = _trade(quiet_sandbox)
    trade.create_order(
        ordertype="limit",
        side="buy",
        pair="XBTUSD",
        volume="0.01",
        price="40000.0",
        cl_ord_id="dup-1",
    )
    result = trade.create_order(
        ordertype="limit",
        side="buy",
        pair="XBTUSD",
        volume="0.01",
        price="40000.0",
        cl_ord_id="dup-1",
    )
    assert result["error"][0].startswith("EOrder:Duplicate")
