"""`sma_cross`: trend following on a fast/slow moving-average crossover, closed candles only.

Long/flat by default: a golden cross (fast moves from below to above slow) buys one entry, a
death cross (fast moves from above to below) sells the whole position the strategy holds. With
`long_only = false` the death cross instead reverses to a short of one entry (margin accounts).

A cross needs a strict change of side between two consecutive closed bars, exactly as
`backtesting.lib.crossover` defines it: a bar where the averages are equal is no side, so
below → equal → above is no cross. That keeps trade counts comparable with backtesting.py.

Cost matters: the backtester replays a year of minute bars (525,600 calls) through this very
class, so `on_candle` does float arithmetic only and touches Decimal just when it orders; the
`signal` text is formatted when someone reads it, not on every bar.

Defaults (fast 5, slow 20 SMA on 1-minute candles, 1,000 quote units per entry) cross several
times an hour on the sandbox's synthetic market once `slow` candles have closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from kraken_tui.domain import CandleView
from kraken_tui.domain.money import ZERO
from kraken_tui.indicators import EMA, SMA
from kraken_tui.strategies.base import (
    BaseStrategy,
    CancelAll,
    Intent,
    Intents,
    StrategyContext,
    register_strategy,
)
from kraken_tui.strategies.close_history import CloseHistory
from kraken_tui.strategies.sizing import SizedParams, tradable

GOLDEN_CROSS = "golden cross"
DEATH_CROSS = "death cross"
EMA_HISTORY_PERIODS = 10
"""An EMA rebuilt from this many slow periods of closes differs from one fed since the start by
less than (1 - 2 / (slow + 1)) ** (10 * slow), about 1e-8 of a price: negligible."""


class SmaCrossParams(SizedParams):
    kind: Literal["sma", "ema"] = "sma"
    """Simple or exponential moving averages."""
    fast: int = Field(default=5, ge=1)
    slow: int = Field(default=20, ge=2)
    interval: int | None = Field(default=None, ge=1)
    """Candle interval (minutes) to trade when the feed carries several; None trades every
    closed candle it is given (a backtest on hourly data needs no extra setting)."""
    long_only: bool = True

    @field_validator("slow")
    @classmethod
    def _slower_than_fast(cls, value: int, info: ValidationInfo) -> int:
        fast = info.data.get("fast")
        if fast is not None and value <= fast:
            raise ValueError(f"slow must be greater than fast ({fast})")
        return value


@register_strategy("sma_cross")
class SmaCross(BaseStrategy):
    Params = SmaCrossParams
    params: SmaCrossParams

    def __init__(self, name: str, symbol: str, params: BaseModel, context: StrategyContext) -> None:
        super().__init__(name, symbol, params, context)
        p = self.params
        average = SMA if p.kind == "sma" else EMA
        self._fast = average(p.fast)
        self._slow = average(p.slow)
        self._update_fast = self._fast.update
        self._update_slow = self._slow.update
        self._interval = p.interval or 0
        """0 accepts any interval; checked as a plain int so the per-bar test stays cheap."""
        self._relation = 0
        """+1 while fast > slow, -1 while fast < slow, 0 when equal or still warming up."""
        keep = p.slow if p.kind == "sma" else p.slow * EMA_HISTORY_PERIODS
        self._history = CloseHistory(keep)
        self._append_close = self._history.closes.append
        self._last_cross: tuple[str, datetime] | None = None
        self._resuming = False

    def on_candle(self, candle: CandleView) -> Intents:
        if not candle.closed or (self._interval and candle.interval != self._interval):
            return None
        if self._resuming and not self._resume(candle):
            return None
        close = float(candle.close)
        self._append_close(close)
        self._history.last_ts = candle.ts
        fast = self._update_fast(close)
        slow = self._update_slow(close)
        if fast is None or slow is None:
            return None
        relation = 1 if fast > slow else -1 if fast < slow else 0
        previous = self._relation
        if relation == previous:
            return None
        self._relation = relation
        if relation == 0 or previous == 0:
            return None
        return self._on_cross(relation > 0, candle)

    def _on_cross(self, golden: bool, candle: CandleView) -> Intents:
        p = self.params
        price = candle.close
        held = self.position.qty
        if golden and p.all_in and held == 0:
            return self._enter_all_in(candle)
        if golden:
            entry = p.entry_volume(self.instrument, price, self.available_quote)
            if entry is None:
                self.signal = "golden cross, but one entry is below the exchange minimum"
                return None
            target = entry
        elif p.long_only:
            target = ZERO
        else:
            entry = p.entry_volume(self.instrument, price, self.available_quote)
            target = ZERO if entry is None else -entry
        change = target - held  # both on the lot grid already
        if (change <= 0) if golden else (change >= 0):
            return None  # already where the cross says to be, or beyond it: never trade against it
        volume = abs(change)
        if not tradable(self.instrument, volume, price):
            return None
        tag = GOLDEN_CROSS if golden else DEATH_CROSS
        self._last_cross = (tag, candle.ts)
        self.signal = ""
        intents: list[Intent] = [CancelAll()] if self.open_orders else []
        intents.append(self.buy(volume, tag=tag) if golden else self.sell(volume, tag=tag))
        return intents

    def _enter_all_in(self, candle: CandleView) -> Intents:
        """From flat, all in: spend the free quote balance, whatever the fill price."""
        amount = self.params.entry_quote(self.instrument, candle.close, self.available_quote)
        if amount is None:
            self.signal = "golden cross, but the free balance is unknown or below the minimum"
            return None
        self._last_cross = (GOLDEN_CROSS, candle.ts)
        self.signal = ""
        intents: list[Intent] = [CancelAll()] if self.open_orders else []
        intents.append(self.buy_quote(amount, tag=GOLDEN_CROSS))
        return intents

    # -- restart: persist recent closes, rebuild the averages from them -------------------------

    def _resume(self, candle: CandleView) -> bool:
        """First candle after a restore: skip it if already seen, start cold after a gap."""
        if self._history.seen(candle.ts):
            return False
        self._resuming = False
        if not self._history.follows(candle.ts, candle.interval):
            self._reset()
        return True

    def _reset(self) -> None:
        self._fast.reset()
        self._slow.reset()
        self._history.clear()
        self._relation = 0

    def dump_state(self) -> str:
        self.state = {"history": self._history.dump()}
        return super().dump_state()

    def restore_state(self, text: str | None) -> None:
        super().restore_state(text)
        history = self.state.get("history")
        if not isinstance(history, dict):
            return
        self._reset()
        self._history.load(history)
        for close in self._history.closes:
            fast = self._update_fast(close)
            slow = self._update_slow(close)
            if fast is not None and slow is not None:
                self._relation = 1 if fast > slow else -1 if fast < slow else 0
        self._resuming = self._history.last_ts is not None

    # -- display --------------------------------------------------------------------------------

    @property
    def signal(self) -> str:
        """Derived from the averages on read; a note set by the strategy is appended."""
        fast, slow = self._fast.value, self._slow.value
        if fast is None or slow is None:
            seen = min(len(self._history.closes), self.params.slow)
            text = f"warming up: {seen}/{self.params.slow} candles"
        else:
            places = self.instrument.price_decimals
            relation = ">" if fast > slow else "<" if fast < slow else "="
            held = self.position.qty
            stance = "long" if held > 0 else "short" if held < 0 else "flat"
            text = f"fast {fast:.{places}f} {relation} slow {slow:.{places}f} ({stance})"
        if self._last_cross is not None:
            tag, when = self._last_cross
            text = f"{text}; last {tag} {when:%Y-%m-%d %H:%M}"
        return f"{text}; {self._note}" if self._note else text

    @signal.setter
    def signal(self, note: str) -> None:
        self._note = note


__all__ = ["SmaCross", "SmaCrossParams"]
