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
    cost_decimals: int = 8
    """Decimals Kraken accepts for an amount in the quote currency (a `viqc` order's volume)."""
    taker_fee: Decimal = Decimal(0)
    """The taker fee this account pays on the pair, as a fraction: read from TradeVolume when
    the key may query it, else the pair's first-tier (highest) fee, which reserves more, never
    less. What an order spending the whole free balance must leave room for."""

    def __post_init__(self) -> None:
        if "/" not in self.symbol:
            raise ValueError(f"instrument symbol {self.symbol!r} must look like BASE/QUOTE")
        if self.tick_size <= 0:
            raise ValueError(f"{self.symbol}: tick_size must be positive")
        if self.price_decimals < 0 or self.lot_decimals < 0:
            raise ValueError(f"{self.symbol}: decimals must not be negative")
        if self.ordermin < 0 or self.costmin < 0:
            raise ValueError(f"{self.symbol}: minimums must not be negative")
        if not 0 <= self.taker_fee < 1:
            raise ValueError(f"{self.symbol}: taker_fee must be a fraction in [0, 1)")

    @property
    def lot_step(self) -> Decimal:
        return decimals_to_step(self.lot_decimals)

    def round_price(self, price: Decimal) -> Decimal:
        return quantize_nearest(price, self.tick_size).quantize(
            decimals_to_step(self.price_decimals)
        )

    def round_volume(self, volume: Decimal) -> Decimal:
        return quantize_down(volume, self.lot_step).quantize(self.lot_step)

    def round_cost(self, amount: Decimal) -> Decimal:
        """An amount of the quote currency, rounded down onto what Kraken accepts."""
        step = decimals_to_step(self.cost_decimals)
        return quantize_down(amount, step).quantize(step)

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

    def check_quote_order(self, quote_volume: Decimal, price: Decimal | None) -> str | None:
        """Kraken's error string for a market buy sized in quote (`viqc`) that it would refuse,
        or None. `price` (the expected fill, e.g. the best ask) estimates the base volume for
        the order minimum; without it only the amount itself is checked."""
        if quote_volume <= 0 or quote_volume != self.round_cost(quote_volume):
            return "EGeneral:Invalid arguments:volume"
        if quote_volume < self.costmin:
            return "EOrder:Cost minimum not met"
        if price is not None and price > 0 and quote_volume / price < self.ordermin:
            return "EOrder:Order minimum not met"
        return None
