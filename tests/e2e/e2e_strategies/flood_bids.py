"""A user strategy for the kill-switch flood test, loaded as `flood_bids.py:FloodBids`: it
asks for `COUNT` resting bids in one go, more than the client-side rate limiter lets out at
once, so most of them are still queued in the process when the kill switch fires."""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.domain import BookSnapshot, Side
from kraken_tui.strategies import BaseStrategy, Intents

COUNT = 150
SIZE = Decimal("0.0001")
LOWEST = Decimal("0.96")
"""Fraction of mid of the deepest bid: inside the default 5 % price band, far from filling."""


class FloodBids(BaseStrategy):
    def on_book(self, book: BookSnapshot) -> Intents:
        mid = book.mid
        if self.state.get("placed") or mid is None:
            return None
        self.state["placed"] = True
        step = (Decimal("0.97") - LOWEST) / COUNT
        return [
            self.limit(Side.BUY, SIZE, self.instrument.round_price(mid * (LOWEST + step * i)))
            for i in range(COUNT)
        ]
