"""Time and sales as replay input: trade by trade, with candles built on the way.

Replaying trades instead of bars lets strategies that react to the tape (`on_trade`) or that
quote (resting orders filled by the prints that trade through them) run on Kraken's
time-and-sales files. The strategy still receives closed candles of `interval` minutes, built
from the trades exactly as `trades_to_bars` builds them, each delivered at its close time.

Kraken's time-and-sales CSVs carry no aggressor side, so each `Trade` gets one by the tick
rule: a print above the previous one was bought, below it was sold, at the same price it keeps
the previous side (the first trade counts as a buy).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from kraken_tui.backtest.data import TRADES_SCHEMA
from kraken_tui.domain import Side


@dataclass(frozen=True, slots=True, eq=False)
class TradeTape:
    """Trades (`TRADES_SCHEMA`, in time order) and the candle interval (minutes) to build."""

    frame: pl.DataFrame
    interval: int = 1

    def __post_init__(self) -> None:
        if self.frame.schema != TRADES_SCHEMA:
            raise ValueError(f"a trade tape needs columns {TRADES_SCHEMA}, got {self.frame.schema}")
        if self.interval < 1:
            raise ValueError(f"candle interval must be positive minutes, got {self.interval}")

    def __len__(self) -> int:
        return self.frame.height


def tick_rule_sides(prices: list[float]) -> list[Side]:
    """The aggressor side of each trade by the tick rule (see the module docstring)."""
    sides: list[Side] = []
    side = Side.BUY
    previous = prices[0] if prices else 0.0
    for price in prices:
        if price > previous:
            side = Side.BUY
        elif price < previous:
            side = Side.SELL
        sides.append(side)
        previous = price
    return sides
