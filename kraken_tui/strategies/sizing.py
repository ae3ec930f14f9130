"""Order sizing shared by the candle strategies: a fixed base volume or a quote notional.

A notional is the natural unit for a trend or reversion strategy ("trade 1,000 USD"), a volume
the natural one when comparing with a reference; both end up as a volume on the instrument's
lot grid, and a size below Kraken's minimums yields no order at all rather than a reject.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from kraken_tui.domain import Instrument

DEFAULT_NOTIONAL = Decimal("1000")


class SizedParams(BaseModel):
    """Parameters with `volume` (base units), `notional` (quote units) or `all_in` (the
    account's whole free quote balance), at most one of them; with none, each entry is worth
    `DEFAULT_NOTIONAL` of the quote currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    volume: Decimal | None = Field(default=None, gt=0)
    notional: Decimal | None = Field(default=None, gt=0)
    all_in: bool = False

    @field_validator("notional")
    @classmethod
    def _one_size_only(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if value is not None and info.data.get("volume") is not None:
            raise ValueError("set either volume or notional, not both")
        return value

    @field_validator("all_in")
    @classmethod
    def _all_in_alone(cls, value: bool, info: ValidationInfo) -> bool:
        if value and (info.data.get("volume") is not None or info.data.get("notional")):
            raise ValueError("all_in sizes entries itself: drop volume and notional")
        return value

    def entry_volume(
        self, instrument: Instrument, price: Decimal, available_quote: Decimal | None = None
    ) -> Decimal | None:
        """The volume of one entry at `price` on the lot grid, or None when Kraken would refuse
        it (below `ordermin` or `costmin`) or, all in, while the free balance is unknown."""
        if self.all_in:
            if available_quote is None or available_quote <= 0:
                return None
            volume = instrument.round_volume(available_quote / price)
        elif self.volume is not None:
            volume = instrument.round_volume(self.volume)
        else:
            notional = self.notional if self.notional is not None else DEFAULT_NOTIONAL
            volume = instrument.round_volume(notional / price)
        return volume if tradable(instrument, volume, price) else None


def tradable(instrument: Instrument, volume: Decimal, price: Decimal) -> bool:
    """Whether an order of `volume` at about `price` meets the instrument's minimums."""
    return volume > 0 and volume >= instrument.ordermin and volume * price >= instrument.costmin
