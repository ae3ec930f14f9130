"""Parsing and checking order arguments the way Kraken does, with Kraken's error strings.

Kept apart from matching so that `validate=true` and a real submission run the very same
checks, and so each rule can be read next to the error it produces.
"""

from __future__ import annotations

import re
from decimal import Decimal

from kraken_tui.domain.enums import Side, TimeInForce
from kraken_tui.domain.money import quantize_down, to_decimal
from kraken_tui.sandbox.errors import (
    COST_MINIMUM,
    INVALID_PRICE,
    ORDER_MINIMUM,
    TICK_SIZE,
    VenueError,
    invalid_argument,
)
from kraken_tui.sandbox.pairs import PairInfo
from kraken_tui.sandbox.records import VenueOrderType

_LONG_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_SHORT_UUID = re.compile(r"[0-9a-fA-F]{32}")
_FREE_TEXT = re.compile(r"[\x20-\x7e]{1,18}")


def parse_cl_ord_id(value: object) -> str:
    """Kraken's AddOrder (REST and WS v2) takes a `cl_ord_id` in one of three forms: a long
    UUID (32 hex digits in 8-4-4-4-12 groups), a short UUID (32 hex digits, no dashes), or
    free ASCII text of at most 18 characters (docs.kraken.com/api/docs/rest-api/add-order,
    "cl_ord_id"; guide docs.kraken.com/api/docs/guides/spot-clordid). Anything else is
    refused before it can reach the book, as Kraken does."""
    if isinstance(value, str) and (
        _LONG_UUID.fullmatch(value) or _SHORT_UUID.fullmatch(value) or _FREE_TEXT.fullmatch(value)
    ):
        return value
    raise VenueError(invalid_argument("cl_ord_id"))


def parse_side(value: Side | str) -> Side:
    try:
        return Side(value)
    except ValueError:
        raise VenueError(invalid_argument("type")) from None


def parse_order_type(value: VenueOrderType | str) -> VenueOrderType:
    try:
        return VenueOrderType(value)
    except ValueError:
        raise VenueError(invalid_argument("ordertype")) from None


def parse_time_in_force(value: TimeInForce | str) -> TimeInForce:
    try:
        return TimeInForce(str(value).lower())
    except ValueError:
        raise VenueError(invalid_argument("timeinforce")) from None


def parse_decimal(value: Decimal | str | int | float, field: str) -> Decimal:
    try:
        return to_decimal(value, field)
    except ValueError:
        raise VenueError(invalid_argument(field)) from None


def parse_optional_decimal(value: Decimal | str | None, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    return parse_decimal(value, field)


def check_volume(pair: PairInfo, volume: Decimal) -> None:
    """A volume must be positive, within the pair's lot decimals and at least `ordermin`."""
    if volume <= 0 or volume % pair.lot_step != 0:
        raise VenueError(invalid_argument("volume"))
    if volume < pair.ordermin:
        raise VenueError(ORDER_MINIMUM)


def check_price(pair: PairInfo, price: Decimal) -> None:
    """A price must be positive and on the pair's tick grid."""
    if price <= 0:
        raise VenueError(INVALID_PRICE)
    if price % pair.tick_size != 0:
        raise VenueError(TICK_SIZE)


def check_cost(pair: PairInfo, reference_price: Decimal | None, volume: Decimal) -> None:
    """`costmin` in quote currency; market orders are measured at the best opposite price."""
    if reference_price is not None and reference_price * volume < pair.costmin:
        raise VenueError(COST_MINIMUM)


def crosses(side: Side, limit: Decimal, opposite_best: Decimal | None) -> bool:
    """Would a `side` order at `limit` trade against the best opposite price?"""
    if opposite_best is None:
        return False
    return limit >= opposite_best if side is Side.BUY else limit <= opposite_best


def affordable_volume(budget: Decimal, price: Decimal, lot_step: Decimal) -> Decimal:
    """The most lots a quote budget buys at `price` (a `viqc` fill): never a notional over
    the budget, even when the division rounded up in its last digit."""
    volume = quantize_down(budget / price, lot_step)
    return volume - lot_step if price * volume > budget else volume
