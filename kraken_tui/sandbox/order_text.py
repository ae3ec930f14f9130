"""Kraken's `descr.order` text, built in one place for every reply that shows an order.

AddOrder, EditOrder, OpenOrders, ClosedOrders and QueryOrders all print the same text for
the same order, in Kraken's form: the volume on the pair's lot grid and prices on its price
grid, e.g. `buy 1.25000000 XBTUSD @ limit 27500.0` or
`sell 0.50000000 XBTUSD @ stop loss 30000.0 -> limit 29500.0`.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.domain.enums import Side
from kraken_tui.domain.money import ZERO
from kraken_tui.sandbox.pairs import PairInfo
from kraken_tui.sandbox.records import VenueOrderType
from kraken_tui.sandbox.wire import fixed

_STOP_LOSS_TYPES = (VenueOrderType.STOP_LOSS, VenueOrderType.STOP_LOSS_LIMIT)


def describe_order(
    pair: PairInfo,
    side: Side,
    order_type: VenueOrderType,
    volume: Decimal,
    limit: Decimal | None,
    trigger: Decimal | None,
    *,
    volume_in_quote: bool = False,
) -> str:
    """`volume_in_quote` (a `viqc` market buy) prints the quote amount on the pair's cost
    grid, `buy 1000.00000 USD of XBTUSD @ market`: Kraken does not document this text."""
    if volume_in_quote:
        amount = fixed(volume, pair.cost_decimals)
        return f"{side.value} {amount} {pair.quote.display} of {pair.altname} @ market"
    head = f"{side.value} {fixed(volume, pair.lot_decimals)} {pair.altname} @ "
    decimals = pair.pair_decimals
    if order_type is VenueOrderType.MARKET:
        return head + "market"
    if order_type is VenueOrderType.LIMIT:
        return head + f"limit {fixed(limit or ZERO, decimals)}"
    words = "stop loss" if order_type in _STOP_LOSS_TYPES else "take profit"
    text = head + f"{words} {fixed(trigger or ZERO, decimals)}"
    if order_type.has_limit_price and limit is not None:
        text += f" -> limit {fixed(limit, decimals)}"
    return text
