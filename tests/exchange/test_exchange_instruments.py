"""Instrument parsing from both Kraken APIs, legacy asset names, and order pre-checks."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from kraken_tui.domain import Instrument, Side
from kraken_tui.exchange.instruments import (
    InstrumentRegistry,
    UnknownInstrumentError,
    display_asset,
    display_symbol,
    instrument_from_ws_pair,
    instruments_from_asset_pairs,
    instruments_from_ws_pairs,
    kraken_asset,
    prepare_order,
    round_price,
)

# Shaped like Kraken's REST AssetPairs result (fields trimmed to what matters here).
ASSET_PAIRS = json.loads(
    """{
  "XXBTZUSD": {"altname": "XBTUSD", "wsname": "XBT/USD", "base": "XXBT", "quote": "ZUSD",
    "pair_decimals": 1, "cost_decimals": 5, "lot_decimals": 8, "ordermin": "0.0001",
    "costmin": "0.5", "tick_size": "0.1", "status": "online"},
  "XETHZEUR": {"altname": "ETHEUR", "wsname": "ETH/EUR", "base": "XETH", "quote": "ZEUR",
    "pair_decimals": 2, "cost_decimals": 5, "lot_decimals": 8, "ordermin": "0.002",
    "costmin": "0.45", "tick_size": "0.01", "status": "online"},
  "XDGUSD": {"altname": "XDGUSD", "wsname": "XDG/USD", "base": "XXDG", "quote": "ZUSD",
    "pair_decimals": 7, "lot_decimals": 8, "ordermin": "13", "costmin": "0.5",
    "tick_size": "0.0000001"},
  "SOLUSD": {"altname": "SOLUSD", "wsname": "SOL/USD", "base": "SOL", "quote": "ZUSD",
    "pair_decimals": 2, "lot_decimals": 8, "ordermin": "0.02", "costmin": "0.5"},
  "XXBTZUSD.d": {"altname": "XBTUSD.d", "base": "XXBT", "quote": "ZUSD",
    "pair_decimals": 1, "lot_decimals": 8},
  "BROKEN": {"altname": "BROKEN", "base": "ABC"}
}"""
)

# Shaped like the WebSocket v2 `instrument` channel's pairs, numbers as bare JSON floats.
WS_PAIRS = json.loads(
    """[
  {"symbol": "BTC/USD", "base": "BTC", "quote": "USD", "status": "online",
   "qty_precision": 8, "qty_increment": 0.00000001, "price_precision": 1,
   "cost_precision": 5, "marginable": true, "has_index": true, "cost_min": 0.5,
   "tick_size": 0.1, "price_increment": 0.1, "qty_min": 0.0001},
  {"symbol": "DOGE/USD", "base": "DOGE", "quote": "USD", "status": "online",
   "qty_precision": 8, "price_precision": 7, "price_increment": 1e-07, "qty_min": 13,
   "cost_min": 0.5},
  {"symbol": "BAD/USD"}
]"""
)


@pytest.mark.parametrize(
    ("kraken", "display"),
    [
        ("XXBT", "BTC"),
        ("XBT", "BTC"),
        ("XETH", "ETH"),
        ("ZUSD", "USD"),
        ("ZEUR", "EUR"),
        ("XXDG", "DOGE"),
        ("XDG", "DOGE"),
        ("SOL", "SOL"),
        ("XBT.F", "BTC.F"),
        ("DOT.S", "DOT.S"),
    ],
)
def test_legacy_asset_codes_map_to_display_names(kraken: str, display: str) -> None:
    assert display_asset(kraken) == display


@pytest.mark.parametrize(
    ("display", "kraken"),
    [("BTC", "XXBT"), ("USD", "ZUSD"), ("DOGE", "XXDG"), ("ETH", "XETH"), ("SOL", "SOL")],
)
def test_display_names_map_back_to_the_rest_asset_codes(display: str, kraken: str) -> None:
    assert kraken_asset(display) == kraken
    assert display_asset(kraken_asset(display)) == display


def test_ws_v1_style_symbols_are_normalised_to_display_names() -> None:
    assert display_symbol("XBT/USD") == "BTC/USD"
    assert display_symbol("XDG/EUR") == "DOGE/EUR"
    with pytest.raises(ValueError, match="BASE/QUOTE"):
        display_symbol("XBTUSD")


def test_asset_pairs_become_instruments_and_bad_entries_are_skipped() -> None:
    instruments = {i.symbol: i for i in instruments_from_asset_pairs(ASSET_PAIRS)}

    assert sorted(instruments) == ["BTC/USD", "DOGE/USD", "ETH/EUR", "SOL/USD"]
    btc = instruments["BTC/USD"]
    assert (btc.base, btc.quote, btc.rest_name, btc.altname) == ("BTC", "USD", "XXBTZUSD", "XBTUSD")
    assert (btc.price_decimals, btc.lot_decimals) == (1, 8)
    assert (btc.tick_size, btc.ordermin, btc.costmin) == (
        Decimal("0.1"),
        Decimal("0.0001"),
        Decimal("0.5"),
    )
    assert instruments["DOGE/USD"].tick_size == Decimal("0.0000001")
    # No tick_size listed: one unit of the last price decimal.
    assert instruments["SOL/USD"].tick_size == Decimal("0.01")


def test_instrument_channel_pairs_become_instruments_with_exact_decimals() -> None:
    instruments = instruments_from_ws_pairs(WS_PAIRS)

    assert [i.symbol for i in instruments] == ["BTC/USD", "DOGE/USD"]
    btc, doge = instruments
    assert btc.tick_size == Decimal("0.1") and btc.ordermin == Decimal("0.0001")
    assert btc.costmin == Decimal("0.5") and btc.lot_decimals == 8
    assert doge.tick_size == Decimal("1E-7") and doge.ordermin == Decimal(13)


def test_registry_resolves_every_kraken_name_of_a_pair() -> None:
    registry = InstrumentRegistry(instruments_from_asset_pairs(ASSET_PAIRS))

    btc = registry.require("BTC/USD")
    for name in ("XBT/USD", "XXBTZUSD", "XBTUSD", "xbtusd", "btc/usd"):
        assert registry.get(name) is btc
    assert registry.get("DOGE/USD") is registry.get("XDG/USD") is registry.get("XDGUSD")
    assert "ETH/EUR" in registry and "ETH/USD" not in registry
    assert len(registry) == 4 and registry.symbols[0] == "BTC/USD"


def test_unknown_pair_raises_with_krakens_error_string() -> None:
    registry = InstrumentRegistry()
    with pytest.raises(UnknownInstrumentError) as raised:
        registry.require("FOO/BAR")
    assert str(raised.value) == "EQuery:Unknown asset pair: FOO/BAR"


def test_instrument_channel_refinement_keeps_rest_names() -> None:
    registry = InstrumentRegistry(instruments_from_asset_pairs(ASSET_PAIRS))
    registry.add(instrument_from_ws_pair(WS_PAIRS[0]))

    btc = registry.require("XXBTZUSD")
    assert btc.rest_name == "XXBTZUSD" and btc.altname == "XBTUSD"


@pytest.fixture
def btc() -> Instrument:
    return InstrumentRegistry(instruments_from_asset_pairs(ASSET_PAIRS)).require("BTC/USD")


def test_prices_round_passively_onto_the_tick_grid(btc: Instrument) -> None:
    assert round_price(btc, Side.BUY, Decimal("45283.57")) == Decimal("45283.5")
    assert round_price(btc, Side.SELL, Decimal("45283.51")) == Decimal("45283.6")
    assert round_price(btc, Side.SELL, Decimal("45283.5")) == Decimal("45283.5")


def test_prepared_order_is_rounded_and_carries_exact_wire_strings(btc: Instrument) -> None:
    order = prepare_order(btc, Side.BUY, Decimal("0.123456789"), Decimal("45283.57"))

    assert order.ok
    assert order.volume == Decimal("0.12345678") and order.price == Decimal("45283.5")
    assert (order.price_text, order.volume_text) == ("45283.5", "0.12345678")


@pytest.mark.parametrize(
    ("volume", "price", "error"),
    [
        ("0.00001", "45000", "EOrder:Order minimum not met"),
        ("0.0001", "1000", "EOrder:Cost minimum not met"),
        ("0.000000001", "45000", "EGeneral:Invalid arguments:volume"),
        ("1", "-5", "EOrder:Invalid price"),
    ],
)
def test_orders_kraken_would_refuse_get_krakens_reason(
    btc: Instrument, volume: str, price: str, error: str
) -> None:
    order = prepare_order(btc, Side.BUY, Decimal(volume), Decimal(price))
    assert not order.ok
    assert order.error == error


def test_unrounded_checks_refuse_off_grid_values_like_kraken(btc: Instrument) -> None:
    off_tick = prepare_order(btc, Side.SELL, Decimal("1"), Decimal("45000.05"), round_values=False)
    assert off_tick.error == "EOrder:Tick size check failed"
    too_fine = prepare_order(btc, Side.SELL, Decimal("1.000000001"), None, round_values=False)
    assert too_fine.error == "EGeneral:Invalid arguments:volume"
    market = prepare_order(btc, Side.SELL, Decimal("1"), None)
    assert market.ok and market.price_text is None and market.volume_text == "1.00000000"
