"""A user strategy for the shutdown tests, loaded as `resting_bids.py:RestingBids`: it rests
two bids well under the market once and, unlike the market maker, leaves them alone when it
stops, so what happens to them at shutdown is the engine's `cancel_on_shutdown` alone."""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.domain import BookSnapshot, Side
from kraken_tui.strategies import BaseStrategy, Intents

SIZE = Decimal("0.001")
BIDS = (Decimal("0.97"), Decimal("0.96"))
"""Fractions of mid: inside the default 5 % price band, far enough not to fill."""


class RestingBids(BaseStrategy):
    def on_book(self, book: BookSnapshot) -> Intents:
        mid = book.mid
        if self.state.get("placed") or mid is None:
            return None
        self.state["placed"] = True
        return [self.limit(Side.BUY, SIZE, self.instrument.round_price(mid * f)) for f in BIDS]
