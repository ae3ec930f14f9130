"""What the order and amend tickets' fields mean: parsed, checked against the instrument's
rules and the balances the engine reports, with one message per problem. Kept free of Textual
so the rules are plain functions of the typed text and the snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from kraken_tui.domain import BookSnapshot, Instrument, Order, OrderType, Side, TimeInForce
from kraken_tui.engine.api import ManualOrder


@dataclass(frozen=True, slots=True)
class OrderForm:
    """The ticket's fields exactly as typed. `price` is the limit price of a limit order and
    the trigger price of a stop-loss or take-profit (which Kraken fills at market once
    triggered); a market order ignores it."""

    symbol: str
    side: Side
    order_type: OrderType
    price: str
    volume: str
    time_in_force: TimeInForce
    post_only: bool = False
    in_quote: bool = False
    """`volume` is an amount of the quote currency to spend (a market buy, Kraken's `viqc`)."""


TRIGGERED_TYPES = frozenset({OrderType.STOP_LOSS, OrderType.TAKE_PROFIT})


def price_label(order_type: OrderType) -> str | None:
    """What the ticket's price field means for this order type, or None when it has none."""
    if order_type is OrderType.LIMIT:
        return "Price"
    if order_type in TRIGGERED_TYPES:
        return "Trigger"
    return None


@dataclass(frozen=True, slots=True)
class FormCheck:
    """The order the form describes (None while it cannot be built), its notional in the quote
    currency (estimated from the book for market orders), and every problem found."""

    order: ManualOrder | None
    notional: Decimal | None
    errors: tuple[str, ...]
    base_estimate: Decimal | None = None
    """For an order sized in quote: the base it buys at the best ask, as far as the book says."""

    @property
    def ok(self) -> bool:
        return self.order is not None and not self.errors


MAX_INTEGER_DIGITS = 15
"""Longest integer part a typed number may have. The checks put it on the instrument's grid
(up to about ten decimals), and Decimal's 28 digits must hold both: a longer number makes
those checks raise instead of answering. No Kraken price or volume comes close."""


def _parse(text: str, name: str, errors: list[str]) -> Decimal | None:
    text = text.strip().replace(",", "")
    if not text:
        errors.append(f"{name} is required")
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors.append(f"{name} {text!r} is not a number")
        return None
    if not value.is_finite():
        errors.append(f"{name} {text!r} is not a number")
        return None
    if value.adjusted() >= MAX_INTEGER_DIGITS:
        errors.append(f"{name} {text!r} is too large")
        return None
    return value


def check_order_form(
    form: OrderForm,
    instrument: Instrument | None,
    book: BookSnapshot | None,
    balances: Mapping[str, Decimal],
) -> FormCheck:
    errors: list[str] = []
    if instrument is None:
        return FormCheck(None, None, (f"unknown symbol {form.symbol!r}",))
    if form.in_quote:
        return _check_quote_buy(form, instrument, book, balances)
    volume = _parse(form.volume, "volume", errors)
    label = price_label(form.order_type)
    typed_price = None if label is None else _parse(form.price, label.lower(), errors)
    if form.post_only and form.order_type is not OrderType.LIMIT:
        errors.append("post-only applies to limit orders only")
    if errors or volume is None:
        return FormCheck(None, None, tuple(errors))

    # Kraken checks a trigger price against the tick size and cost minimum as it does a limit.
    exchange_error = instrument.check_order(typed_price, volume)
    if exchange_error is not None:
        errors.append(_explain(exchange_error, instrument, volume))

    reference = typed_price if typed_price is not None else _touch(book, form.side)
    notional = None if reference is None else reference * volume
    if form.side is Side.BUY:
        available = balances.get(instrument.quote, Decimal(0))
        if notional is not None and notional > available:
            errors.append(
                f"insufficient {instrument.quote}: need {notional:,.2f}, have {available:,.2f}"
            )
    else:
        available = balances.get(instrument.base, Decimal(0))
        if volume > available:
            errors.append(f"insufficient {instrument.base}: need {volume}, have {available}")

    order = ManualOrder(
        symbol=instrument.symbol,
        side=form.side,
        order_type=form.order_type,
        volume=volume,
        price=typed_price if form.order_type is OrderType.LIMIT else None,
        trigger_price=typed_price if form.order_type in TRIGGERED_TYPES else None,
        time_in_force=form.time_in_force,
        post_only=form.post_only,
    )
    return FormCheck(order, notional, tuple(errors))


def _check_quote_buy(
    form: OrderForm,
    instrument: Instrument,
    book: BookSnapshot | None,
    balances: Mapping[str, Decimal],
) -> FormCheck:
    """ "Spend this much quote": a market buy whose base volume is what the amount buys."""
    errors: list[str] = []
    if form.side is not Side.BUY or form.order_type is not OrderType.MARKET:
        errors.append(f"only a market buy can be sized in {instrument.quote}")
    amount = _parse(form.volume, "amount", errors)
    if errors or amount is None:
        return FormCheck(None, None, tuple(errors))
    ask = _touch(book, Side.BUY)
    exchange_error = instrument.check_quote_order(amount, ask)
    if exchange_error == "EGeneral:Invalid arguments:volume":
        errors.append(
            f"{exchange_error} (a positive amount, at most {instrument.cost_decimals} decimals)"
        )
    elif exchange_error is not None:
        errors.append(_explain(exchange_error, instrument, amount))
    available = balances.get(instrument.quote, Decimal(0))
    if amount > available:
        errors.append(f"insufficient {instrument.quote}: need {amount:,.2f}, have {available:,.2f}")
    order = ManualOrder(
        symbol=instrument.symbol,
        side=Side.BUY,
        order_type=OrderType.MARKET,
        volume=Decimal(0),
        time_in_force=form.time_in_force,
        quote_volume=amount,
    )
    estimate = None if ask is None else instrument.round_volume(amount / ask)
    return FormCheck(order, amount, tuple(errors), estimate)


def _touch(book: BookSnapshot | None, side: Side) -> Decimal | None:
    """The price a market order would start filling at: best ask for a buy, best bid for a sell."""
    if book is None:
        return None
    level = book.best_ask if side is Side.BUY else book.best_bid
    return None if level is None else level.price


def _explain(kraken_error: str, instrument: Instrument, volume: Decimal) -> str:
    """Kraken's error string plus the number the trader needs to fix it."""
    if kraken_error == "EOrder:Tick size check failed":
        return f"{kraken_error} (tick {instrument.tick_size})"
    if kraken_error == "EOrder:Order minimum not met":
        return f"{kraken_error} (min {instrument.ordermin} {instrument.base})"
    if kraken_error == "EOrder:Cost minimum not met":
        return f"{kraken_error} (min {instrument.costmin} {instrument.quote})"
    if kraken_error == "EGeneral:Invalid arguments:volume" and volume > 0:
        return f"{kraken_error} (at most {instrument.lot_decimals} decimals)"
    return kraken_error


@dataclass(frozen=True, slots=True)
class AmendCheck:
    """An amend of an open order as typed: the new limit price and total volume (None where
    unchanged), the order's notional after it, and every problem found."""

    price: Decimal | None
    volume: Decimal | None
    notional: Decimal | None
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_amend_form(
    order: Order, instrument: Instrument | None, price: str, volume: str
) -> AmendCheck:
    """Only a limit order has a price to amend, and an order sized in quote no base volume;
    the new volume is the order's total and must stay above what already filled."""
    errors: list[str] = []
    if instrument is None:
        return AmendCheck(None, None, None, (f"unknown symbol {order.symbol!r}",))
    typed_price = _parse(price, "price", errors) if order.order_type is OrderType.LIMIT else None
    typed_volume = _parse(volume, "volume", errors) if order.quote_volume is None else None
    if errors:
        return AmendCheck(None, None, None, tuple(errors))
    new_price = typed_price if typed_price not in (None, order.price) else None
    new_volume = typed_volume if typed_volume not in (None, order.volume) else None
    final_price = order.price if new_price is None else new_price
    final_volume = order.volume if new_volume is None else new_volume
    if new_price is None and new_volume is None:
        errors.append("nothing to amend: change the price or the volume")
    elif order.quote_volume is None:
        exchange_error = instrument.check_order(final_price, final_volume)
        if exchange_error is not None:
            errors.append(_explain(exchange_error, instrument, final_volume))
    if new_volume is not None and new_volume <= order.filled:
        errors.append(f"volume must exceed the {order.filled} already filled")
    notional = None if final_price is None else final_price * final_volume
    return AmendCheck(new_price, new_volume, notional, tuple(errors))
