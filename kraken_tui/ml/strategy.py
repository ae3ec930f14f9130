"""`ml_signal`: trade a trained model's probability that the next `horizon` bars pay for the fees.

On every closed candle of the model's interval the strategy updates its features incrementally
(the same definitions the model was trained on, see `features`), asks the model for the
probability of a fee-clearing rise, and acts with hysteresis: flat → buy one entry when the
probability reaches `enter`; long → sell the whole position when it falls to `exit` or below.
While one of its orders is still in flight it waits, so a slow fill never doubles an entry.
The gap between the two thresholds keeps a probability hovering near one level from churning
fees. Orders are plain market intents, so the engine's risk checks apply as to any strategy.

The model file is loaded once, at construction, through `model_file.load_model`, which refuses
unsafe or mismatched files; a refusal is a configuration error naming the file.

Restarts: the last `WARMUP_BARS` bars are kept in the persisted state and replayed into fresh
features on restore, so a restarted strategy trades at once instead of warming up for hours;
if the first candle after the restart does not follow on from the last one seen, the replay is
discarded (the market moved on while the engine was down).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from kraken_tui.domain import CandleView
from kraken_tui.domain.money import ZERO
from kraken_tui.ml.features import (
    WARMUP_BARS,
    FeatureBar,
    LiveFeatures,
    book_depth,
    resolve_feature_set,
)
from kraken_tui.ml.model_file import ModelFileError, load_model
from kraken_tui.ml.predictor import probability_function
from kraken_tui.strategies.base import (
    BaseStrategy,
    Intents,
    StrategyConfigError,
    StrategyContext,
    register_strategy,
)
from kraken_tui.strategies.sizing import SizedParams, tradable

ENTER_TAG = "ml enter"
EXIT_TAG = "ml exit"


class MlSignalParams(SizedParams):
    model: Path
    """The model file written by `kraken-tui ml train`."""
    enter: float = Field(default=0.55, gt=0.0, lt=1.0)
    """Buy when the predicted probability reaches this."""
    exit: float = Field(default=0.50, gt=0.0, lt=1.0)
    """Sell the position when the probability falls to this or below."""

    @field_validator("exit")
    @classmethod
    def _exit_not_above_enter(cls, value: float, info: ValidationInfo) -> float:
        enter = info.data.get("enter")
        if enter is not None and value > enter:
            raise ValueError(f"exit must not be above enter ({enter})")
        return value


@register_strategy("ml_signal")
class MlSignal(BaseStrategy):
    Params = MlSignalParams
    params: MlSignalParams

    def __init__(self, name: str, symbol: str, params: BaseModel, context: StrategyContext) -> None:
        super().__init__(name, symbol, params, context)
        try:
            loaded = load_model(self.params.model)
        except ModuleNotFoundError as exc:
            raise StrategyConfigError(
                f"strategy {name!r}: ml_signal needs the `ml` extra ({exc.name} is missing): "
                "pip install 'kraken-tui[ml]'"
            ) from None
        except ModelFileError as exc:
            raise StrategyConfigError(f"strategy {name!r}: {exc}") from None
        self._probability = probability_function(loaded.estimator)
        self.metadata = loaded.metadata
        self._feature_set = resolve_feature_set(loaded.metadata.features)
        self._features = LiveFeatures(self._feature_set)
        self._interval = loaded.metadata.interval
        self._recent: deque[FeatureBar] = deque(maxlen=WARMUP_BARS)
        self._last_ts: datetime | None = None
        self._resuming = False
        self.probability: float | None = None

    def on_candle(self, candle: CandleView) -> Intents:
        if not candle.closed or candle.interval != self._interval:
            return None
        if self._resuming and not self._resume(candle):
            return None
        if self._last_ts is not None and candle.ts <= self._last_ts:
            return None
        bar = self._feature_bar(candle)
        self._recent.append(bar)
        self._last_ts = candle.ts
        self._features.update(bar)
        vector = self._features.complete()
        if vector is None:
            self.probability = None
            return None
        probability = self._probability(vector)
        self.probability = probability
        return self._act(probability, candle)

    def _feature_bar(self, candle: CandleView) -> FeatureBar:
        bid = ask = None
        if self._feature_set.needs_book:
            book = self.book
            if book is not None and not book.stale:
                bid, ask = book_depth(book)
        return FeatureBar(
            candle.ts.timestamp(), float(candle.close), float(candle.volume), bid, ask
        )

    def _act(self, probability: float, candle: CandleView) -> Intents:
        if self.open_orders:
            return None  # an order of ours is still in flight: act once it has settled
        p = self.params
        held = self.position.qty
        price = candle.close
        if held == ZERO and probability >= p.enter and p.all_in:
            amount = p.entry_quote(self.instrument, price, self.available_quote)
            if amount is None:
                self.signal = "free balance unknown or below the exchange minimum"
                return None
            return [self.buy_quote(amount, tag=ENTER_TAG)]
        if held <= ZERO and probability >= p.enter:
            entry = p.entry_volume(self.instrument, price, self.available_quote)
            if entry is None:
                self.signal = "entry is below the exchange minimum"
                return None
            return [self.buy(entry - held, tag=ENTER_TAG)]
        if held > ZERO and probability <= p.exit and tradable(self.instrument, held, price):
            return [self.sell(held, tag=EXIT_TAG)]
        return None

    # -- restart: persist the recent bars, replay them into fresh features ---------------------

    def _resume(self, candle: CandleView) -> bool:
        """First candle after a restore: skip one already seen, start cold after a gap."""
        if self._last_ts is not None and candle.ts <= self._last_ts:
            return False
        self._resuming = False
        if self._last_ts is None or candle.ts - self._last_ts != timedelta(minutes=self._interval):
            self._reset()
        return True

    def _reset(self) -> None:
        self._features = LiveFeatures(self._feature_set)
        self._recent.clear()
        self._last_ts = None
        self.probability = None

    def dump_state(self) -> str:
        self.state = {
            "bars": [list(bar) for bar in self._recent],
            "last_ts": None if self._last_ts is None else self._last_ts.isoformat(),
        }
        return super().dump_state()

    def restore_state(self, text: str | None) -> None:
        super().restore_state(text)
        bars = _parse_bars(self.state.get("bars"))
        last_ts = self.state.get("last_ts")
        if bars is None or not isinstance(last_ts, str):
            return
        self._reset()
        for bar in bars:
            self._recent.append(bar)
            self._features.update(bar)
        self._last_ts = datetime.fromisoformat(last_ts)
        self._resuming = True

    # -- display --------------------------------------------------------------------------------

    @property
    def signal(self) -> str:
        """The last probability against the thresholds; a note set by the strategy is appended."""
        probability = self.probability
        if probability is None:
            seen = self._features.bars_seen
            if seen < WARMUP_BARS:
                text = f"warming up: {seen}/{WARMUP_BARS} candles"
            else:
                text = "no prediction: a feature is undefined on the last candle"
        else:
            p = self.params
            stance = "long" if self.position.qty > ZERO else "flat"
            text = (
                f"p(up {self.metadata.horizon} bars) {probability:.3f} "
                f"(enter ≥ {p.enter:.2f}, exit ≤ {p.exit:.2f}; {stance})"
            )
        return f"{text}; {self._note}" if self._note else text

    @signal.setter
    def signal(self, note: str) -> None:
        self._note = note


def _parse_bars(raw: Any) -> list[FeatureBar] | None:
    if not isinstance(raw, list):
        return None
    bars: list[FeatureBar] = []
    for item in raw:
        if not isinstance(item, list) or len(item) != len(FeatureBar._fields):
            return None
        if not all(value is None or isinstance(value, int | float) for value in item):
            return None
        bars.append(FeatureBar(*item))
    return bars


__all__ = ["MlSignal", "MlSignalParams"]
