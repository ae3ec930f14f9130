"""`rsi_reversion`: buy weakness, sell strength, on Wilder's RSI over closed candles.

Long/flat (spot): when flat and RSI closes below `oversold`, buy one entry; when long and RSI
closes above `overbought` (or, with `exit_at_mid`, back at or above 50, the faster and more
conservative exit), sell the whole position. Acting on the level rather than on a crossing
means a strategy that starts, or restarts, in an oversold market still enters.

Only closed candles count: an RSI of a bar still forming changes until the bar closes, and
acting on it would be trading on values a backtest could never have seen.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from kraken_tui.domain import CandleView
from kraken_tui.indicators import RSI
from kraken_tui.strategies.base import (
    BaseStrategy,
    Intents,
    StrategyContext,
    register_strategy,
)
from kraken_tui.strategies.close_history import CloseHistory
from kraken_tui.strategies.sizing import SizedParams, tradable

RSI_HISTORY_PERIODS = 10
"""Wilder's smoothing forgets its start like an EMA of 2 * period - 1; ten periods of closes
rebuild an RSI within about 1e-4 points of one fed since the beginning."""
MIDLINE = 50.0


class RsiReversionParams(SizedParams):
    period: int = Field(default=14, ge=2)
    oversold: float = Field(default=30.0, gt=0, lt=50)
    overbought: float = Field(default=70.0, gt=50, lt=100)
    exit_at_mid: bool = False
    """Exit a long when RSI is back at 50 instead of waiting for `overbought`."""
    interval: int | None = Field(default=None, ge=1)
    """Candle interval (minutes) to trade when the feed carries several; None trades every
    closed candle it is given."""

    @field_validator("overbought")
    @classmethod
    def _above_oversold(cls, value: float, info: ValidationInfo) -> float:
        oversold = info.data.get("oversold")
        if oversold is not None and value <= oversold:
            raise ValueError(f"overbought must be above oversold ({oversold})")
        return value


@register_strategy("rsi_reversion")
class RsiReversion(BaseStrategy):
    Params = RsiReversionParams
    params: RsiReversionParams

    def __init__(self, name: str, symbol: str, params: BaseModel, context: StrategyContext) -> None:
        super().__init__(name, symbol, params, context)
        p = self.params
        self._rsi = RSI(p.period)
        self._exit_level = MIDLINE if p.exit_at_mid else p.overbought
        self._history = CloseHistory(p.period * RSI_HISTORY_PERIODS)
        self._resuming = False
        self._last_action: tuple[str, float, datetime] | None = None

    def on_candle(self, candle: CandleView) -> Intents:
        p = self.params
        if not candle.closed or (p.interval and candle.interval != p.interval):
            return None
        history = self._history
        if self._resuming:
            if history.seen(candle.ts):
                return None
            self._resuming = False
            if not history.follows(candle.ts, candle.interval):
                self._rsi.reset()
                history.clear()
        close = float(candle.close)
        history.closes.append(close)
        history.last_ts = candle.ts
        rsi = self._rsi.update(close)
        if rsi is None or self.open_orders:
            return None
        held = self.position.qty
        if held == 0 and rsi < p.oversold and p.all_in:
            amount = p.entry_quote(self.instrument, candle.close, self.available_quote)
            if amount is None:
                self.signal = "oversold, but the free balance is unknown or below the minimum"
                return None
            self._last_action = ("bought", rsi, candle.ts)
            return [self.buy_quote(amount, tag=f"RSI {rsi:.1f} < {p.oversold:g}")]
        if held <= 0 and rsi < p.oversold:
            volume = p.entry_volume(self.instrument, candle.close, self.available_quote)
            if volume is None:
                self.signal = "oversold, but one entry is below the exchange minimum"
                return None
            self._last_action = ("bought", rsi, candle.ts)
            return [self.buy(volume, tag=f"RSI {rsi:.1f} < {p.oversold:g}")]
        if held > 0 and rsi >= self._exit_level:
            if not tradable(self.instrument, held, candle.close):
                return None
            self._last_action = ("sold", rsi, candle.ts)
            return [self.sell(held, tag=f"RSI {rsi:.1f} >= {self._exit_level:g}")]
        return None

    # -- restart ----------------------------------------------------------------------------------

    def dump_state(self) -> str:
        self.state = {"history": self._history.dump()}
        return super().dump_state()

    def restore_state(self, text: str | None) -> None:
        super().restore_state(text)
        history = self.state.get("history")
        if not isinstance(history, dict):
            return
        self._rsi.reset()
        self._history.load(history)
        for close in self._history.closes:
            self._rsi.update(close)
        self._resuming = self._history.last_ts is not None

    # -- display --------------------------------------------------------------------------------

    @property
    def signal(self) -> str:
        p = self.params
        rsi = self._rsi.value
        if rsi is None:
            seen = min(len(self._history.closes), p.period + 1)
            text = f"warming up: {seen}/{p.period + 1} candles"
        else:
            zone = "oversold" if rsi < p.oversold else "overbought" if rsi > p.overbought else ""
            held = self.position.qty
            stance = "long" if held > 0 else "flat" if held == 0 else "short"
            text = f"RSI {rsi:.1f}{' ' + zone if zone else ''} ({stance})"
        if self._last_action is not None:
            action, level, when = self._last_action
            text = f"{text}; {action} at RSI {level:.1f} {when:%H:%M}"
        return f"{text}; {self._note}" if self._note else text

    @signal.setter
    def signal(self, note: str) -> None:
        self._note = note


__all__ = ["RsiReversion", "RsiReversionParams"]
