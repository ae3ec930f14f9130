"""The order ticket's rules as plain functions of the typed fields and the snapshot."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from static_engine import INSTRUMENTS, build_snapshot

from kraken_tui.domain import OrderType, Side, TimeInForce
from kraken_tui.ui.order_form import OrderForm, check_amend_form, check_order_form

SNAPSHOT = build_snapshot()
BTC = INSTRUMENTS["BTC/USD"]
BOOK = SNAPSHOT.books["BTC/USD"]
BALANCES = {"USD": Decimal("1000"), "BTC": Decimal("0.05")}


def form(
    price: str = "64000.0",
    volume: str = "0.01",
    side: Side = Side.BUY,
    order_type: OrderType = OrderType.LIMIT,
) -> OrderForm:
    return OrderForm("BTC/USD", side, order_type, price, volume, TimeInForce.GTC)


def test_a_valid_limit_order_builds_the_manual_order_and_its_notional() -> None:
    check = check_order_form(form(), BTC, BOOK, BALANCES)
    assert check.ok
    assert check.order is not None
    assert (check.order.price, check.order.volume) == (Decimal("64000.0"), Decimal("0.01"))
    assert check.notional == Decimal("640.000")


def test_price_off_the_tick_grid_is_refused_with_the_tick_size() -> None:
    check = check_order_form(form(price="64000.05"), BTC, BOOK, BALANCES)
    assert check.errors == ("EOrder:Tick size check failed (tick 0.1)",)


def test_volume_below_ordermin_is_refused_with_the_minimum() -> None:
    check = check_order_form(form(volume="0.00001"), BTC, BOOK, BALANCES)
    assert "EOrder:Order minimum not met (min 0.00005 BTC)" in check.errors


def test_volume_with_too_many_decimals_is_refused() -> None:
    check = check_order_form(form(volume="0.000100001"), BTC, BOOK, BALANCES)
    assert check.errors == ("EGeneral:Invalid arguments:volume (at most 8 decimals)",)


def test_a_buy_above_the_quote_balance_is_refused() -> None:
    check = check_order_form(form(volume="0.02"), BTC, BOOK, BALANCES)
    assert check.errors == ("insufficient USD: need 1,280.00, have 1,000.00",)


def test_a_sell_above_the_base_balance_is_refused() -> None:
    check = check_order_form(form(volume="0.06", side=Side.SELL), BTC, BOOK, BALANCES)
    assert check.errors == ("insufficient BTC: need 0.06, have 0.05",)


def test_a_market_buy_is_valued_at_the_best_ask_and_ignores_the_price_field() -> None:
    check = check_order_form(
        form(price="not a number", order_type=OrderType.MARKET), BTC, BOOK, BALANCES
    )
    assert check.ok
    assert BOOK.best_ask is not None
    assert check.notional == BOOK.best_ask.price * Decimal("0.01")
    assert check.order is not None and check.order.price is None


def test_text_that_is_not_a_number_is_named_in_the_error() -> None:
    check = check_order_form(form(price="64k"), BTC, BOOK, BALANCES)
    assert check.order is None
    assert check.errors == ("price '64k' is not a number",)


def test_numbers_too_large_to_put_on_the_grid_are_named_instead_of_raising() -> None:
    check = check_order_form(form(price="1e30", volume="1e20"), BTC, BOOK, BALANCES)
    assert check.order is None
    assert check.errors == ("volume '1e20' is too large", "price '1e30' is too large")
    largest = check_order_form(form(price="999999999999999.9"), BTC, BOOK, BALANCES)
    assert largest.order is not None and largest.order.price == Decimal("999999999999999.9")


def test_empty_fields_are_required_and_thousands_separators_are_accepted() -> None:
    assert check_order_form(form(volume=""), BTC, BOOK, BALANCES).errors == ("volume is required",)
    assert check_order_form(form(price="64,000.0"), BTC, BOOK, BALANCES).ok


def test_an_unknown_symbol_is_refused() -> None:
    check = check_order_form(form(), None, None, BALANCES)
    assert check.errors == ("unknown symbol 'BTC/USD'",)


def test_a_stop_loss_sends_the_typed_price_as_its_trigger() -> None:
    check = check_order_form(
        form(price="60000.0", side=Side.SELL, order_type=OrderType.STOP_LOSS), BTC, BOOK, BALANCES
    )
    assert check.ok
    assert check.order is not None
    assert (check.order.price, check.order.trigger_price) == (None, Decimal("60000.0"))
    assert check.notional == Decimal("600.000")


def test_a_take_profit_trigger_off_the_tick_grid_is_refused() -> None:
    check = check_order_form(
        form(price="70000.05", side=Side.SELL, order_type=OrderType.TAKE_PROFIT),
        BTC,
        BOOK,
        BALANCES,
    )
    assert check.errors == ("EOrder:Tick size check failed (tick 0.1)",)


def test_a_stop_loss_without_a_trigger_names_the_missing_field() -> None:
    check = check_order_form(form(price="", order_type=OrderType.STOP_LOSS), BTC, BOOK, BALANCES)
    assert check.errors == ("trigger is required",)


def test_post_only_is_carried_on_a_limit_and_refused_on_a_market_order() -> None:
    limit = replace(form(), post_only=True)
    check = check_order_form(limit, BTC, BOOK, BALANCES)
    assert check.order is not None and check.order.post_only
    market = replace(limit, order_type=OrderType.MARKET)
    assert check_order_form(market, BTC, BOOK, BALANCES).errors == (
        "post-only applies to limit orders only",
    )


def quote_form(amount: str, order_type: OrderType = OrderType.MARKET) -> OrderForm:
    return replace(form(volume=amount, order_type=order_type), in_quote=True)


def test_a_market_buy_sized_in_quote_spends_the_amount_and_estimates_what_it_buys() -> None:
    check = check_order_form(quote_form("500"), BTC, BOOK, BALANCES)
    assert check.ok and check.order is not None
    assert (check.order.quote_volume, check.order.volume) == (Decimal(500), Decimal(0))
    assert check.notional == Decimal(500)
    assert BOOK.best_ask is not None
    assert check.base_estimate == BTC.round_volume(Decimal(500) / BOOK.best_ask.price)


def test_quote_sizing_refuses_a_limit_order_an_overdraft_and_an_amount_below_the_minimum() -> None:
    limit = check_order_form(quote_form("500", OrderType.LIMIT), BTC, BOOK, BALANCES)
    assert limit.errors == ("only a market buy can be sized in USD",)
    broke = check_order_form(quote_form("1500"), BTC, BOOK, BALANCES)
    assert broke.errors == ("insufficient USD: need 1,500.00, have 1,000.00",)
    tiny = check_order_form(quote_form("0.4"), BTC, BOOK, BALANCES)
    assert tiny.errors == ("EOrder:Cost minimum not met (min 0.5 USD)",)


OPEN = SNAPSHOT.open_orders[1]
"""grid-0007: sell 0.05 BTC/USD @ 64,335.0, 0.01 of it filled."""


def test_an_amend_names_only_what_changes_and_the_notional_after_it() -> None:
    check = check_amend_form(OPEN, BTC, "64340.0", "0.05")
    assert check.ok
    assert (check.price, check.volume) == (Decimal("64340.0"), None)
    assert check.notional == Decimal("64340.0") * Decimal("0.05")


def test_an_amend_off_the_grid_below_the_fill_or_changing_nothing_is_refused() -> None:
    assert check_amend_form(OPEN, BTC, "64335.05", "0.05").errors == (
        "EOrder:Tick size check failed (tick 0.1)",
    )
    assert check_amend_form(OPEN, BTC, "64335.0", "0.01").errors == (
        "volume must exceed the 0.01000000 already filled",
    )
    assert check_amend_form(OPEN, BTC, "64335.0", "0.05").errors == (
        "nothing to amend: change the price or the volume",
    )
    assert check_amend_form(OPEN, BTC, "abc", "0.05").errors == ("price 'abc' is not a number",)
