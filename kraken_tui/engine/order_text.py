"""How an order's size reads in log lines, command results and reconciliation records.

An order sized in quote (Kraken's `viqc`) has a base volume of zero, so "buy 0 BTC/USD" would
mislead whoever reads the log: it reads as the amount it spends instead."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from kraken_tui.domain import Side


class SizedOrder(Protocol):
    """What `OrderRequest`, `Order` and `ProposedOrder` share about an order's size."""

    @property
    def side(self) -> Side: ...

    @property
    def symbol(self) -> str: ...

    @property
    def volume(self) -> Decimal: ...

    @property
    def quote_volume(self) -> Decimal | None: ...


def size_text(order: SizedOrder) -> str:
    """`buy 0.5 BTC/USD`, or `buy 1000.00 USD of BTC/USD` for an order sized in quote."""
    if order.quote_volume is None:
        return f"{order.side} {order.volume} {order.symbol}"
    quote = order.symbol.partition("/")[2]
    return f"{order.side} {order.quote_volume} {quote} of {order.symbol}"
