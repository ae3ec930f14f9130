"""Instrument metadata: what Kraken requires of an order's price and volume."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.domain.money import decimals_to_step, quantize_down, quantize_nearest


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable pair. `symbol` is the WebSocket v2 name (`BTC/USD`); `rest_name` is
    Kraken's REST key (`XXBTZUSD`); `altname` is the short REST alias (`XBTUSD`)."""

    symbol: str
    base: str
    quote: str
    price_decimals: int
    lot_decimals: int
    tick_size: Decimal
    ordermin: Decimal
    costmin: Decimal
    rest_name: str = ""
    altname: str = ""

    def __post_init__(self) -> None:
        if "/" not in self.symbol:
            raise ValueError(f"instrument symbol {self.symbol!r} must look like BASE/QUOTE")
        if self.tick_size <= 0:
            raise ValueError(f"{self.symbol}: tick_size must be positive")
        if self.price_decimals < 0 or self.lot_decimals < 0:
            raise ValueError(f"{self.symbol}: decimals must not be negative")
        if self.ordermin < 0 or self.costmin < 0:
            raise ValueError(f"{self.symbol}: minimums must not be negative")

    @property
    def lot_step(self) -> Decimal:
        return decimals_to_step(self.lot_decimals)

    def round_price(self, price: Decimal) -> Decimal:
        return quantize_nearest(price, self.tick_size).quantize(
            decimals_to_step(self.price_decimals)
        )

    def round_volume(self, volume: Decimal) -> Decimal:
        return quantize_down(volume, self.lot_step).quantize(self.lot_step)

    def price_on_tick(self, price: Decimal) -> bool:
        return price % self.tick_size == 0

    def check_order(self, price: Decimal | None, volume: Decimal) -> str | None:
        """Return Kraken's error string for an order it would refuse, or None when it is valid.
        `price` is None for market orders (cost minimum then cannot be checked here)."""
        if volume <= 0:
            return "EGeneral:Invalid arguments:volume"
        if volume != volume.quantize(self.lot_step):
            return "EGeneral:Invalid arguments:volume"
        if price is not None:
            if price <= 0:
                return "EOrder:Invalid price"
            if not self.price_on_tick(price):
                return "EOrder:Tick size check failed"
        if volume < self.ordermin:
            return "EOrder:Order minimum not met"
        if price is not None and price * volume < self.costmin:
            return "EOrder:Cost minimum not met"
        return None
