"""The open-orders table's volume cell: an order sized in quote must not read as base."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from kraken_tui.domain import Order, OrderStatus, OrderType, Side
from kraken_tui.ui.widgets.orders_table import volume_cell

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def market_buy(**changes: object) -> Order:
    fields: dict[str, object] = {
        "cl_ord_id": "c-1",
        "symbol": "BTC/USD",
        "side": Side.BUY,
        "order_type": OrderType.MARKET,
        "volume": Decimal("0.5"),
        "status": OrderStatus.NEW,
        "created_at": NOW,
        **changes,
    }
    return Order(**fields)  # type: ignore[arg-type]


def test_a_base_sized_order_shows_its_base_volume() -> None:
    assert volume_cell(market_buy(), "USD") == "0.5000"


def test_a_quote_sized_order_shows_the_amount_it_spends_with_its_currency() -> None:
    order = market_buy(volume=Decimal(0), quote_volume=Decimal("1000"))
    assert volume_cell(order, "USD") == "1,000.00 USD"


def test_a_quote_amount_keeps_every_decimal_it_was_given() -> None:
    order = market_buy(volume=Decimal(0), quote_volume=Decimal("996.01593"))
    assert volume_cell(order, "USD") == "996.01593 USD"
