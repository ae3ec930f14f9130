"""A user strategy bidding at a price fixed in its configuration, loaded as
`fixed_bid.py:FixedBid`: the one kind of order whose price comes from the configuration as
written, so a price off the pair's tick grid reaches the exchange for it to refuse."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from kraken_tui.domain import BookSnapshot, Side
from kraken_tui.strategies import BaseStrategy, Intents


class FixedBidParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    price: Decimal = Field(gt=0)
    volume: Decimal = Field(gt=0)


class FixedBid(BaseStrategy):
    Params = FixedBidParams
    params: FixedBidParams

    def on_book(self, book: BookSnapshot) -> Intents:
        if self.state.get("placed"):
            return None
        self.state["placed"] = True
        return [self.limit(Side.BUY, self.params.volume, self.params.price)]
