"""Maker/taker fee schedule: Kraken's base tier by default, configurable for tests and demos."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.domain.money import quantize_down
from kraken_tui.sandbox.pairs import MAKER_FEE_TIERS, TAKER_FEE_TIERS

_PERCENT = Decimal(100)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Rates are fractions (0.0025 = 0.25 %). Fees are charged in the quote currency."""

    maker: Decimal = MAKER_FEE_TIERS[0][1] / _PERCENT
    taker: Decimal = TAKER_FEE_TIERS[0][1] / _PERCENT

    def __post_init__(self) -> None:
        if not (0 <= self.maker <= self.taker < 1):
            raise ValueError("fee rates must satisfy 0 <= maker <= taker < 1")

    def rate(self, maker: bool) -> Decimal:
        return self.maker if maker else self.taker

    def fee(self, cost: Decimal, maker: bool, step: Decimal) -> Decimal:
        """The fee on `cost`, rounded down onto the quote asset's step.

        Rounding down keeps the fee within what was reserved for it, so an account whose
        whole balance is on hold can never be driven below zero by rounding."""
        return quantize_down(cost * self.rate(maker), step)
