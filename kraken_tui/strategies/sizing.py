"""Order sizing shared by the candle strategies: a base volume, a quote notional, or all in.

A notional is the natural unit for a trend or reversion strategy ("trade 1,000 USD"), a volume
the natural one when comparing with a reference; both end up as a volume on the instrument's
lot grid, and a size below Kraken's minimums yields no order at all rather than a reject.

All in spends the account's free quote balance. Sized in base on the signal bar's close it
would be refused whenever the price rises before the fill (the balance no longer covers it),
so an all-in entry from flat is a market buy sized in quote (Kraken's `viqc`): the exchange
works out the volume at the prices the order meets, as backtesting.py's `buy()` does at the
fill. Room is left for the pair's listed taker fee, which is charged on top of the amount.
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
        it (below `ordermin` or `costmin`) or, all in, while the free balance is unknown. All
        in, this is the estimate at `price` of what `entry_quote` buys."""
        if self.all_in:
            amount = self.entry_quote(instrument, price, available_quote)
            if amount is None:
                return None
            volume = instrument.round_volume(amount / price)
        elif self.volume is not None:
            volume = instrument.round_volume(self.volume)
        else:
            notional = self.notional if self.notional is not None else DEFAULT_NOTIONAL
            volume = instrument.round_volume(notional / price)
        return volume if tradable(instrument, volume, price) else None

    def entry_quote(
        self, instrument: Instrument, price: Decimal, available_quote: Decimal | None
    ) -> Decimal | None:
        """All in: the quote amount one entry spends (the free balance less room for the taker
        fee, on Kraken's quote grid), or None while the balance is unknown or when Kraken
        would refuse the order (`price` estimates its base volume for `ordermin`)."""
        if not self.all_in or available_quote is None or available_quote <= 0:
            return None
        amount = instrument.round_cost(available_quote / (1 + instrument.taker_fee))
        return amount if instrument.check_quote_order(amount, price) is None else None


def tradable(instrument: Instrument, volume: Decimal, price: Decimal) -> bool:
    """Whether an order of `volume` at about `price` meets the instrument's minimums."""
    return volume > 0 and volume >= instrument.ordermin and volume * price >= instrument.costmin
