"""Kraken's `descr.order` text: one builder, Kraken's form, for every order type."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.order_text import describe_order
from kraken_tui.sandbox.pairs import PairRegistry
from kraken_tui.sandbox.records import VenueOrderType

D = Decimal


@pytest.mark.parametrize(
    ("side", "order_type", "limit", "trigger", "text"),
    [
        (Side.BUY, VenueOrderType.LIMIT, D("27500"), None, "buy 1.25000000 XBTUSD @ limit 27500.0"),
        (Side.SELL, VenueOrderType.MARKET, None, None, "sell 1.25000000 XBTUSD @ market"),
        (
            Side.SELL,
            VenueOrderType.STOP_LOSS,
            None,
            D("30000"),
            "sell 1.25000000 XBTUSD @ stop loss 30000.0",
        ),
        (
            Side.SELL,
            VenueOrderType.STOP_LOSS_LIMIT,
            D("29500"),
            D("30000"),
            "sell 1.25000000 XBTUSD @ stop loss 30000.0 -> limit 29500.0",
        ),
        (
            Side.BUY,
            VenueOrderType.TAKE_PROFIT,
            None,
            D("25000"),
            "buy 1.25000000 XBTUSD @ take profit 25000.0",
        ),
        (
            Side.BUY,
            VenueOrderType.TAKE_PROFIT_LIMIT,
            D("25100.5"),
            D("25000"),
            "buy 1.25000000 XBTUSD @ take profit 25000.0 -> limit 25100.5",
        ),
    ],
)
def test_order_text_prints_volume_on_the_lot_grid_and_prices_on_the_price_grid(
    side: Side,
    order_type: VenueOrderType,
    limit: Decimal | None,
    trigger: Decimal | None,
    text: str,
) -> None:
    pair = PairRegistry().resolve("XBTUSD")
    assert describe_order(pair, side, order_type, D("1.25"), limit, trigger) == text


def test_order_text_of_a_quote_sized_buy_names_the_amount_on_the_cost_grid() -> None:
    pair = PairRegistry().resolve("XBTUSD")
    text = describe_order(
        pair, Side.BUY, VenueOrderType.MARKET, D("1000"), None, None, volume_in_quote=True
    )
    assert text == "buy 1000.00000 USD of XBTUSD @ market"
