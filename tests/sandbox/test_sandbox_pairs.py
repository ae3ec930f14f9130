from decimal import Decimal

import pytest

from kraken_tui.sandbox.errors import VenueError
from kraken_tui.sandbox.pairs import PairRegistry


@pytest.fixture
def registry() -> PairRegistry:
    return PairRegistry()


@pytest.mark.parametrize("name", ["BTC/USD", "XBT/USD", "XXBTZUSD", "XBTUSD", "xbtusd", "btc/usd"])
def test_every_kraken_spelling_of_bitcoin_usd_resolves_to_one_pair(
    registry: PairRegistry, name: str
) -> None:
    assert registry.resolve(name).rest_name == "XXBTZUSD"


@pytest.mark.parametrize("name", ["ETH/BTC", "ETH/XBT", "XETHXXBT", "ETHXBT"])
def test_eth_btc_resolves_from_v2_symbol_wsname_rest_name_and_altname(
    registry: PairRegistry, name: str
) -> None:
    pair = registry.resolve(name)
    assert (pair.symbol, pair.wsname, pair.altname) == ("ETH/BTC", "ETH/XBT", "ETHXBT")


def test_unknown_pair_is_refused_with_krakens_error(registry: PairRegistry) -> None:
    with pytest.raises(VenueError) as caught:
        registry.resolve("DOGE/EUR")
    assert caught.value.error == "EQuery:Unknown asset pair"


def test_pairs_carry_krakens_real_precisions_and_minimums(registry: PairRegistry) -> None:
    expected = {
        "BTC/USD": (1, 8, "0.1", "0.00005", "0.5"),
        "ETH/USD": (2, 8, "0.01", "0.002", "0.5"),
        "SOL/USD": (2, 8, "0.01", "0.02", "0.5"),
        "ETH/BTC": (5, 8, "0.00001", "0.002", "0.00002"),
    }
    for symbol, (price_dp, lot_dp, tick, ordermin, costmin) in expected.items():
        pair = registry.resolve(symbol)
        assert (pair.pair_decimals, pair.lot_decimals) == (price_dp, lot_dp)
        assert (pair.tick_size, pair.ordermin, pair.costmin) == (
            Decimal(tick),
            Decimal(ordermin),
            Decimal(costmin),
        )


def test_assets_map_legacy_codes_to_display_names(registry: PairRegistry) -> None:
    assert {code: a.display for code, a in registry.assets.items()} == {
        "XXBT": "BTC",
        "ZUSD": "USD",
        "XETH": "ETH",
        "SOL": "SOL",
    }
    assert registry.asset("BTC").code == "XXBT"
    assert registry.asset("XBT").code == "XXBT"
    with pytest.raises(VenueError) as caught:
        registry.asset("NOPE")
    assert caught.value.error == "EQuery:Unknown asset"


def test_rest_asset_pair_entry_reports_what_the_sdk_reads(registry: PairRegistry) -> None:
    entry = registry.resolve("BTC/USD").rest_entry()
    assert entry["pair_decimals"] == 1
    assert entry["lot_decimals"] == 8
    assert (entry["base"], entry["quote"], entry["wsname"]) == ("XXBT", "ZUSD", "XBT/USD")
    assert (entry["ordermin"], entry["costmin"], entry["tick_size"]) == ("0.00005", "0.5", "0.1")
    assert entry["fees"][0] == [0, 0.4]
    assert entry["fees_maker"][0] == [0, 0.25]


def test_ws_instrument_entry_uses_v2_names_and_increments(registry: PairRegistry) -> None:
    entry = registry.resolve("ETHXBT").ws_entry()
    assert (entry["symbol"], entry["base"], entry["quote"]) == ("ETH/BTC", "ETH", "BTC")
    assert entry["price_increment"] == Decimal("0.00001")
    assert entry["qty_increment"] == Decimal("0.00000001")
    assert entry["qty_min"] == Decimal("0.002")
    assert registry.asset("XXBT").ws_entry()["id"] == "BTC"


def test_pair_converts_to_the_domain_instrument(registry: PairRegistry) -> None:
    instrument = registry.resolve("SOLUSD").to_instrument()
    assert instrument.symbol == "SOL/USD"
    assert instrument.check_order(Decimal("150.005"), Decimal("1")) == (
        "EOrder:Tick size check failed"
    )
