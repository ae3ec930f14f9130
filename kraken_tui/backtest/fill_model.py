"""How a bar backtest gives the sandbox venue something to trade against.

A bar file says where the price went, not who was quoting. The fill model turns each bar into
liquidity for the sandbox's matching engine (`SandboxVenue`), which then applies its own rules
(fees, minimums, funds, post-only, partial fills) exactly as it does for the sandbox server:

* Orders reach the venue `latency_ms` after the strategy decided, and at the first bar open at
  or after that moment: a bar has no price inside it, so an order can't be filled mid-bar.
  With no latency a decision taken on a bar's close meets the next bar's open.
* As each order arrives at that open, the venue holds one synthetic level on the side the
  order would trade against, at `open × (1 ± (spread_bps / 2 + slippage_bps) / 10,000)`
  rounded away from the open onto the tick (a buy meets an ask, a sell a bid; one side at a
  time, so a zero spread is possible). Market orders and marketable limit orders take it;
  post-only orders that would cross it are refused. The depth of each side over the whole
  bar is `volume_share` of the bar's volume (None: unlimited), so a big order against a thin
  bar is partly filled and the rest canceled, as the venue does.
* Limit orders left resting are filled during the bar by synthetic flow that walks the bar's
  path (open → low → high → close when the bar rose, open → high → low → close when it fell),
  only where the bar traded through the order's price by at least one tick: touching it is
  not enough, because a backtest can't know the order's place in the queue. They fill at their
  own limit price, as makers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from kraken_tui.domain.money import ZERO

BPS = Decimal(10_000)
UNLIMITED_DEPTH = Decimal(1_000_000_000)
"""Base units quoted when depth is unlimited: more than any account could trade."""


@dataclass(frozen=True, slots=True)
class FillModel:
    latency_ms: int = 0
    """Time from a strategy's decision to the order (or cancel) reaching the venue."""
    spread_bps: Decimal = ZERO
    """Full quoted spread around the open, in basis points."""
    slippage_bps: Decimal = ZERO
    """Extra distance beyond the half-spread that takers pay, in basis points."""
    volume_share: Decimal | None = None
    """Share of a bar's volume available on each side (None: unlimited depth)."""

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, got {self.latency_ms}")
        if self.spread_bps < 0 or self.slippage_bps < 0:
            raise ValueError("spread_bps and slippage_bps must not be negative")
        if self.volume_share is not None and not 0 < self.volume_share <= 1:
            raise ValueError(f"volume_share must be in (0, 1], got {self.volume_share}")

    @property
    def latency_us(self) -> int:
        return self.latency_ms * 1000

    def taker_quotes(self, price: Decimal, tick: Decimal) -> tuple[Decimal, Decimal]:
        """(bid, ask) takers meet at `price`: half the spread plus slippage away from it."""
        return _around(price, (self.spread_bps / 2 + self.slippage_bps) / BPS, tick)

    def reference_quotes(self, price: Decimal, tick: Decimal) -> tuple[Decimal, Decimal]:
        """(bid, ask) shown to strategies and risk: the spread without slippage."""
        return _around(price, self.spread_bps / 2 / BPS, tick)

    def depth(self, bar_volume: float, lot_step: Decimal) -> Decimal:
        """Liquidity per side for one bar, on the lot grid (may be 0 for an empty bar)."""
        if self.volume_share is None:
            return UNLIMITED_DEPTH
        available = Decimal(repr(bar_volume)) * self.volume_share
        return available.quantize(lot_step, rounding=ROUND_FLOOR)

    def describe(self) -> dict[str, str | int | None]:
        """The model as JSON-friendly parameters, stored with each run."""
        return {
            "latency_ms": self.latency_ms,
            "spread_bps": str(self.spread_bps),
            "slippage_bps": str(self.slippage_bps),
            "volume_share": None if self.volume_share is None else str(self.volume_share),
        }


def _around(price: Decimal, fraction: Decimal, tick: Decimal) -> tuple[Decimal, Decimal]:
    bid = (price * (1 - fraction) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    ask = (price * (1 + fraction) / tick).to_integral_value(rounding=ROUND_CEILING) * tick
    return bid, ask
