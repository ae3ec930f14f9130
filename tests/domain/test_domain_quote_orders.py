"""Orders sized in the quote currency (Kraken's `viqc`): what the domain types accept, and the
instrument's checks and fee metadata, parsed from the sandbox's own AssetPairs listing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kraken_tui.domain import Order, OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.exchange.instruments import instrument_from_asset_pair, instrument_from_ws_pair
from kraken_tui.sandbox.pairs import PairRegistry

BTC_USD = PairRegistry().resolve("BTC/USD")


def quote_buy(**changes: object) -> OrderRequest:
    fields: dict[str, object] = {
        "cl_ord_id": "q-1",
        "symbol": "BTC/USD",
        "side": Side.BUY,
        "order_type": OrderType.MARKET,
        "volume": Decimal(0),
        "quote_volume": Decimal("1000"),
        **changes,
    }
    return OrderRequest(**fields)  # type: ignore[arg-type]


def test_a_market_buy_sized_in_quote_has_its_amount_as_notional() -> None:
    assert quote_buy().notional == Decimal("1000")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"side": Side.SELL}, "only market buys"),
        ({"order_type": OrderType.LIMIT, "price": Decimal("50000")}, "only market buys"),
        ({"volume": Decimal("0.1")}, "set one or the other"),
        ({"quote_volume": Decimal(0)}, "quote volume must be positive"),
        ({"quote_volume": None}, "volume must be positive"),
    ],
)
def test_quote_sizing_is_refused_where_kraken_refuses_it(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        quote_buy(**changes)


def test_an_order_sized_in_quote_has_nothing_remaining_in_base() -> None:
    order = Order.from_request(quote_buy(), datetime(2026, 1, 1, tzinfo=UTC))
    assert order.quote_volume == Decimal("1000")
    assert order.volume == 0
    assert order.remaining == 0
    assert order.status is OrderStatus.PENDING_NEW


def test_asset_pairs_listing_gives_the_quote_grid_and_first_tier_taker_fee() -> None:
    instrument = instrument_from_asset_pair(BTC_USD.rest_name, BTC_USD.rest_entry())
    assert instrument.cost_decimals == BTC_USD.cost_decimals == 5
    assert instrument.taker_fee == Decimal("0.004")  # Kraken's 0.40% first tier


def test_a_listing_without_fees_leaves_no_fee_room() -> None:
    entry = {k: v for k, v in BTC_USD.rest_entry().items() if k != "fees"}
    assert instrument_from_asset_pair(BTC_USD.rest_name, entry).taker_fee == 0


def test_a_malformed_fee_tier_is_an_error_not_a_silent_zero() -> None:
    entry = {**BTC_USD.rest_entry(), "fees": [["oops"]]}
    with pytest.raises(ValueError, match="fees"):
        instrument_from_asset_pair(BTC_USD.rest_name, entry)


def test_the_instrument_channel_gives_the_quote_grid() -> None:
    assert instrument_from_ws_pair(BTC_USD.ws_entry()).cost_decimals == 5


def test_quote_amounts_round_down_onto_the_grid() -> None:
    instrument = BTC_USD.to_instrument()
    assert instrument.round_cost(Decimal("996.015936254")) == Decimal("996.01593")


@pytest.mark.parametrize(
    ("amount", "price", "error"),
    [
        (Decimal("100"), Decimal("50000"), None),
        (Decimal("100.000001"), Decimal("50000"), "EGeneral:Invalid arguments:volume"),
        (Decimal("0"), None, "EGeneral:Invalid arguments:volume"),
        (Decimal("0.4"), None, "EOrder:Cost minimum not met"),
        (Decimal("1"), Decimal("50000"), "EOrder:Order minimum not met"),
        (Decimal("1"), None, None),
    ],
)
def test_quote_orders_kraken_would_refuse_get_its_reason(
    amount: Decimal, price: Decimal | None, error: str | None
) -> None:
    instrument = BTC_USD.to_instrument()
    assert instrument.check_quote_order(amount, price) == error
