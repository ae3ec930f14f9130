"""Donchian channel breakout with an ATR trailing stop: a complete user strategy to copy.

Put this file in your strategy directory (`strategy_dir` in the config, `strategies/` by
default) and configure it as `class = "breakout.py:DonchianBreakout"`. See
docs/creating_strategies.md for the walk-through.

Rules, on closed candles only:
- flat, and the close breaks above the highest high of the previous `entry_lookback` candles:
  buy `volume`;
- long, and the close falls below the lowest low of the previous `exit_lookback` candles, or
  more than `atr_stop` ATRs below the highest close since entry: sell the whole position.

The channels and the trade's peak are kept in `self.state`, which the engine saves and hands
back after a restart, so a restarted strategy keeps its channels and its trailing stop.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from kraken_tui.domain import CandleView
from kraken_tui.indicators import ATR
from kraken_tui.strategies import BaseStrategy, Intents, StrategyContext, register_strategy


class BreakoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    entry_lookback: int = Field(default=20, ge=2)
    """Candles whose highest high the close must break to enter."""
    exit_lookback: int = Field(default=10, ge=1)
    """Candles whose lowest low, broken downwards, ends the trade."""
    atr_period: int = Field(default=14, ge=1)
    atr_stop: float = Field(default=3.0, ge=0)
    """Trailing stop distance below the peak close, in ATRs; 0 turns the stop off."""
    volume: Decimal = Field(default=Decimal("0.001"), gt=0)
    """Size of each entry, in the base currency."""

    @field_validator("exit_lookback")
    @classmethod
    def _exit_faster_than_entry(cls, value: int, info: ValidationInfo) -> int:
        entry = info.data.get("entry_lookback")
        if entry is not None and value > entry:
            raise ValueError(f"exit_lookback must not exceed entry_lookback ({entry})")
        return value


@register_strategy("breakout")
class DonchianBreakout(BaseStrategy):
    Params = BreakoutParams
    params: BreakoutParams

    def __init__(self, name: str, symbol: str, params: BaseModel, context: StrategyContext):
        super().__init__(name, symbol, params, context)
        self.atr = ATR(self.params.atr_period)
        self.highs: deque[float] = deque(maxlen=self.params.entry_lookback)
        self.lows: deque[float] = deque(maxlen=self.params.exit_lookback)
        self.peak: float | None = None

    def on_start(self) -> Intents:
        """Runs after the engine restored `state`: rebuild the channels from it."""
        self.highs.extend(self.state.get("highs", []))
        self.lows.extend(self.state.get("lows", []))
        self.peak = self.state.get("peak")
        return None

    def on_candle(self, candle: CandleView) -> Intents:
        if not candle.closed:
            return None
        p = self.params
        high, low, close = float(candle.high), float(candle.low), float(candle.close)
        atr = self.atr.update(high, low, close)
        intents = self._decide(close, atr)
        self.highs.append(high)
        self.lows.append(low)
        self.state = {"highs": list(self.highs), "lows": list(self.lows), "peak": self.peak}
        channel = f"{max(self.highs):.2f}-{min(self.lows):.2f}"
        stance = "long" if self.position.qty > 0 else "flat"
        self.signal = f"close {close:.2f}, channel {channel} ({stance}, {p.entry_lookback} bars)"
        return intents

    def _decide(self, close: float, atr: float | None) -> Intents:
        p = self.params
        held = self.position.qty
        if held <= 0:
            if len(self.highs) == p.entry_lookback and close > max(self.highs):
                self.peak = close
                return [self.buy(p.volume, tag=f"breakout above {max(self.highs):.2f}")]
            return None
        self.peak = close if self.peak is None else max(self.peak, close)
        if len(self.lows) == p.exit_lookback and close < min(self.lows):
            self.peak = None
            return [self.sell(held, tag=f"channel exit below {min(self.lows):.2f}")]
        if p.atr_stop and atr is not None and close < self.peak - p.atr_stop * atr:
            stop = self.peak - p.atr_stop * atr
            self.peak = None
            return [self.sell(held, tag=f"trailing stop {stop:.2f}")]
        return None
