"""REST TradeVolume and validate-only AddOrder, driven by python-kraken-sdk's own clients.

TradeVolume's shape is Kraken's: docs.kraken.com/api/docs/rest-api/get-trade-volume and
krakenfx/api-specs `spot-rest/schemas/responses/user/trades/volume.yaml` (fee objects:
`spot-rest/schemas/objects/user/volume/fees.yaml`). AddOrder with `validate=true` checks
everything and answers `descr` without `txid` (krakenfx/api-specs
`spot-rest/schemas/responses/trading/orders/add.yaml`: txid only "if order was added").
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from kraken.exceptions import KrakenOrderMinimumNotMetError, KrakenTickSizeInvalidCheckError
from kraken.spot import Trade, User
from sandbox_harness import SandboxThread

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET


def _user(box: SandboxThread) -> User:
    assert box.server is not None
    return User(key=DEV_API_KEY, secret=DEV_API_SECRET, url=box.server.rest_url)


def _trade(box: SandboxThread) -> Trade:
    assert box.server is not None
    return Trade(key=DEV_API_KEY, secret=DEV_API_SECRET, url=box.server.rest_url)


def test_trade_volume_without_pairs_gives_usd_volume_and_no_fees(
    quiet_sandbox: SandboxThread,
) -> None:
    result = _user(quiet_sandbox).get_trade_volume()
    assert result == {"currency": "ZUSD", "volume": "0.0000"}


def test_trade_volume_gives_the_charged_taker_and_maker_fee_per_requested_pair_in_percent(
    quiet_sandbox: SandboxThread,
) -> None:
    result = _user(quiet_sandbox).get_trade_volume(pair="XBTUSD, ETH/USD")
    assert set(result["fees"]) == set(result["fees_maker"]) == {"XXBTZUSD", "XETHZUSD"}
    taker, maker = result["fees"]["XXBTZUSD"], result["fees_maker"]["XXBTZUSD"]
    assert taker == {
        "fee": "0.4000",
        "min_fee": "0.1000",
        "max_fee": "0.4000",
        "next_fee": "0.3500",
        "tier_volume": "0.0000",
        "next_volume": "10000.0000",
    }
    assert maker["fee"] == "0.2500" and maker["next_fee"] == "0.2000"


def test_trade_volume_counts_the_accounts_usd_fills(quiet_sandbox: SandboxThread) -> None:
    assert quiet_sandbox.server is not None
    venue = quiet_sandbox.server.venue
    quiet_sandbox.call(venue.place_synthetic, "BTC/USD", Side.SELL, Decimal("50000.0"), Decimal(1))
    quiet_sandbox.call(venue.place_synthetic, "ETH/BTC", Side.SELL, Decimal("0.05"), Decimal(1))
    trade = _trade(quiet_sandbox)
    trade.create_order(ordertype="market", side="buy", pair="XBTUSD", volume="0.01")
    trade.create_order(ordertype="market", side="buy", pair="ETHXBT", volume="0.1")
    volume = _user(quiet_sandbox).get_trade_volume()["volume"]
    assert volume == "500.0000"  # the ETH/BTC fill is not in USD


def test_trade_volume_refuses_an_unknown_pair(quiet_sandbox: SandboxThread) -> None:
    with pytest.raises(Exception, match="EQuery:Unknown asset pair"):
        _user(quiet_sandbox).get_trade_volume(pair="NOPE/USD")


def test_validate_only_order_answers_descr_without_txid(quiet_sandbox: SandboxThread) -> None:
    result = _trade(quiet_sandbox).create_order(
        ordertype="limit", side="buy", pair="XBTUSD", volume="0.01", price="40000.0", validate=True
    )
    assert set(result) == {"descr"}
    assert result["descr"]["order"].startswith("buy ")


def test_validate_only_order_under_the_minimum_or_off_tick_is_refused_with_krakens_error(
    quiet_sandbox: SandboxThread,
) -> None:
    trade = _trade(quiet_sandbox)
    with pytest.raises(KrakenOrderMinimumNotMetError):
        trade.create_order(
            ordertype="limit",
            side="buy",
            pair="XBTUSD",
            volume="0.00001",
            price="40000.0",
            validate=True,
        )
    with pytest.raises(KrakenTickSizeInvalidCheckError):
        trade.create_order(
            ordertype="limit",
            side="buy",
            pair="XBTUSD",
            volume="0.01",
            price="40000.05",
            validate=True,
        )
    assert _user(quiet_sandbox).get_open_orders()["open"] == {}
