"""Model features, each defined once and computed two ways: in bulk with polars for training, and
one candle at a time for live trading.

A model is only as good as the agreement between the numbers it was trained on and the numbers
it sees live. So every feature is one object holding its parameters, with two faces built from
them: `expression()`, a polars expression over a whole bar frame, and `tracker()`, an
incremental calculator fed one closed bar at a time. Both reuse the indicator classes of
`kraken_tui.indicators` and their bulk twins in `kraken_tui.indicators.bulk`, which are tested
to agree value for value; `tests/ml/test_ml_features.py` checks the features the same way.

Every feature uses only the current bar and earlier ones (the leakage check in `train` proves
it by truncating the data), and is scale-free (returns, ratios, oscillators), so a model
trained at one price level still applies at another.

Warm-up: EMA-based features (MACD) depend, faintly, on every price since the series began, so a
live process started mid-stream and a training run started at the file's first bar disagree
until the seed has decayed. No feature row is produced before `WARMUP_BARS` bars, by which time
the slowest EMA's seed weighs (1 - 2/27)^200 ≈ 2e-7 of its value, in both paths alike.

Order-book imbalance needs book depth at each candle close. Kraken's OHLCVT files have none, so
it belongs to a separate feature set used only when the bars carry `bid_depth` and `ask_depth`
columns (summed quantities of the top `BOOK_LEVELS` levels, recorded at the bar's close).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, Protocol, cast

import polars as pl

from kraken_tui.domain import BookSnapshot
from kraken_tui.indicators import MACD, RSI, BollingerBands
from kraken_tui.indicators import bulk as indicators_bulk

FEATURE_VERSION = 1
"""Bump whenever any feature's definition or parameters change: model files record it and
are refused by code computing a different version."""

WARMUP_BARS = 200
BOOK_LEVELS = 10
SECONDS_PER_DAY = 86_400
FLAT_WIDTH = 1e-6
"""Band widths below this (relative to the band's centre, or absolute for log volumes, which are
of order one) count as a flat window, where positions and z-scores are undefined. A sliding
variance keeps a residue of about 1e-8 of the level after its window goes flat, and the two
paths slide differently, so the cut sits well above that and well below any real market's
width; both paths apply it the same way."""


class FeatureBar(NamedTuple):
    """What a tracker sees of one closed bar: its open time (Unix seconds), close, volume and,
    when a book was recorded at the close, the depth on each side (None otherwise)."""

    ts: float
    close: float
    volume: float
    bid_depth: float | None = None
    ask_depth: float | None = None


class Tracker(Protocol):
    def update(self, bar: FeatureBar) -> float | None:
        """Take the next closed bar; return the feature's value, or None while undefined."""
        ...


class Feature(ABC):
    """One feature: a name and its two computations from the same parameters."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The feature's column name, as recorded in model files."""

    @abstractmethod
    def expression(self) -> pl.Expr:
        """The feature over a bar frame with columns ts, close, volume (and depth columns for
        book features), rows in time order; null where `tracker()` would return None."""

    @abstractmethod
    def tracker(self) -> Tracker:
        """A fresh incremental calculator of the feature."""


# -- returns and volatility --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogReturn(Feature):
    """log(close / close `horizon` bars ago): momentum over that horizon."""

    horizon: int

    @property
    def name(self) -> str:
        return f"ret_{self.horizon}"

    def expression(self) -> pl.Expr:
        close = pl.col("close")
        return (close / close.shift(self.horizon)).log()

    def tracker(self) -> Tracker:
        return _LogReturnTracker(self.horizon)


class _LogReturnTracker:
    __slots__ = ("_closes", "_span")

    def __init__(self, horizon: int) -> None:
        self._span = horizon + 1
        self._closes: deque[float] = deque(maxlen=self._span)

    def update(self, bar: FeatureBar) -> float | None:
        closes = self._closes
        closes.append(bar.close)
        if len(closes) < self._span:
            return None
        return math.log(bar.close / closes[0])


@dataclass(frozen=True, slots=True)
class RealizedVolatility(Feature):
    """Population standard deviation of one-bar log returns over `window` bars: the current
    volatility regime, which scales how far any signal can carry."""

    window: int

    @property
    def name(self) -> str:
        return f"vol_{self.window}"

    def expression(self) -> pl.Expr:
        close = pl.col("close")
        one_bar = (close / close.shift(1)).log()
        mid, upper, _ = indicators_bulk.bollinger_bands(one_bar, self.window, 1.0)
        return upper - mid

    def tracker(self) -> Tracker:
        return _VolatilityTracker(self.window)


class _VolatilityTracker:
    __slots__ = ("_bands", "_previous")

    def __init__(self, window: int) -> None:
        self._bands = BollingerBands(window, 1.0)
        self._previous: float | None = None

    def update(self, bar: FeatureBar) -> float | None:
        previous = self._previous
        self._previous = bar.close
        if previous is None:
            return None
        band = self._bands.update(math.log(bar.close / previous))
        return None if band is None else band.upper - band.mid


# -- oscillators ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelativeStrength(Feature):
    """RSI(period) scaled to [0, 1]."""

    period: int = 14

    @property
    def name(self) -> str:
        return f"rsi_{self.period}"

    def expression(self) -> pl.Expr:
        return indicators_bulk.rsi(pl.col("close"), self.period) / 100.0

    def tracker(self) -> Tracker:
        return _RsiTracker(self.period)


class _RsiTracker:
    __slots__ = ("_rsi",)

    def __init__(self, period: int) -> None:
        self._rsi = RSI(period)

    def update(self, bar: FeatureBar) -> float | None:
        value = self._rsi.update(bar.close)
        return None if value is None else value / 100.0


@dataclass(frozen=True, slots=True)
class MacdRatio(Feature):
    """The MACD line (`part="line"`) or histogram (`part="histogram"`) divided by the close,
    so it reads the same at any price level."""

    part: str
    fast: int = 12
    slow: int = 26
    signal: int = 9

    @property
    def name(self) -> str:
        return "macd" if self.part == "line" else "macd_hist"

    def expression(self) -> pl.Expr:
        line, _, histogram = indicators_bulk.macd(
            pl.col("close"), self.fast, self.slow, self.signal
        )
        return (line if self.part == "line" else histogram) / pl.col("close")

    def tracker(self) -> Tracker:
        return _MacdTracker(self)


class _MacdTracker:
    __slots__ = ("_line", "_macd")

    def __init__(self, feature: MacdRatio) -> None:
        self._macd = MACD(feature.fast, feature.slow, feature.signal)
        self._line = feature.part == "line"

    def update(self, bar: FeatureBar) -> float | None:
        value = self._macd.update(bar.close)
        if value is None:
            return None
        return (value.macd if self._line else value.histogram) / bar.close


@dataclass(frozen=True, slots=True)
class BollingerPosition(Feature):
    """Where the close sits in its Bollinger band: 0 at the lower band, 1 at the upper."""

    period: int = 20
    num_std: float = 2.0

    @property
    def name(self) -> str:
        return f"bb_pos_{self.period}"

    def expression(self) -> pl.Expr:
        close = pl.col("close")
        mid, upper, lower = indicators_bulk.bollinger_bands(close, self.period, self.num_std)
        width = upper - lower
        return pl.when(width > FLAT_WIDTH * mid.abs()).then((close - lower) / width)

    def tracker(self) -> Tracker:
        return _BollingerTracker(self.period, self.num_std)


class _BollingerTracker:
    __slots__ = ("_bands",)

    def __init__(self, period: int, num_std: float) -> None:
        self._bands = BollingerBands(period, num_std)

    def update(self, bar: FeatureBar) -> float | None:
        band = self._bands.update(bar.close)
        if band is None:
            return None
        width = band.upper - band.lower
        if not width > FLAT_WIDTH * abs(band.mid):
            return None
        return (bar.close - band.lower) / width


@dataclass(frozen=True, slots=True)
class VolumeZScore(Feature):
    """How unusual this bar's volume is: the z-score of log(1 + volume) against the last
    `window` bars (logs, because volume is heavy-tailed and a single block trade would
    otherwise dominate the window)."""

    window: int = 60

    @property
    def name(self) -> str:
        return f"volume_z_{self.window}"

    def expression(self) -> pl.Expr:
        log_volume = pl.col("volume").log1p()
        mid, upper, _ = indicators_bulk.bollinger_bands(log_volume, self.window, 1.0)
        deviation = upper - mid
        return pl.when(deviation > FLAT_WIDTH).then((log_volume - mid) / deviation)

    def tracker(self) -> Tracker:
        return _VolumeTracker(self.window)


class _VolumeTracker:
    __slots__ = ("_bands",)

    def __init__(self, window: int) -> None:
        self._bands = BollingerBands(window, 1.0)

    def update(self, bar: FeatureBar) -> float | None:
        log_volume = math.log1p(bar.volume)
        band = self._bands.update(log_volume)
        if band is None:
            return None
        deviation = band.upper - band.mid
        if not deviation > FLAT_WIDTH:
            return None
        return (log_volume - band.mid) / deviation


# -- calendar and book -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeOfDay(Feature):
    """The bar's UTC open time on the daily circle (`part` "sin" or "cos"): activity and
    volatility follow the trading day, and the pair keeps 23:59 next to 00:00."""

    part: str

    @property
    def name(self) -> str:
        return f"tod_{self.part}"

    def expression(self) -> pl.Expr:
        angle = (pl.col("ts").dt.epoch("s") % SECONDS_PER_DAY).cast(pl.Float64) * (
            2.0 * math.pi / SECONDS_PER_DAY
        )
        return angle.sin() if self.part == "sin" else angle.cos()

    def tracker(self) -> Tracker:
        return _TimeOfDayTracker(self.part == "sin")


class _TimeOfDayTracker:
    __slots__ = ("_sin",)

    def __init__(self, sin: bool) -> None:
        self._sin = sin

    def update(self, bar: FeatureBar) -> float | None:
        angle = float(int(bar.ts) % SECONDS_PER_DAY) * (2.0 * math.pi / SECONDS_PER_DAY)
        return math.sin(angle) if self._sin else math.cos(angle)


@dataclass(frozen=True, slots=True)
class BookImbalance(Feature):
    """(bid depth - ask depth) / (bid depth + ask depth) over the top `BOOK_LEVELS` levels at
    the bar's close: resting buying versus selling interest, in [-1, 1]."""

    @property
    def name(self) -> str:
        return "book_imbalance"

    def expression(self) -> pl.Expr:
        bid, ask = pl.col("bid_depth"), pl.col("ask_depth")
        total = bid + ask
        return pl.when(total > 0.0).then((bid - ask) / total)

    def tracker(self) -> Tracker:
        return _BookImbalanceTracker()


class _BookImbalanceTracker:
    __slots__ = ()

    def update(self, bar: FeatureBar) -> float | None:
        bid, ask = bar.bid_depth, bar.ask_depth
        if bid is None or ask is None or not bid + ask > 0.0:
            return None
        return (bid - ask) / (bid + ask)


def book_depth(book: BookSnapshot, levels: int = BOOK_LEVELS) -> tuple[float, float]:
    """Summed quantity of the top `levels` bids and asks: the depth columns book features need."""
    bid = sum((level.qty for level in book.bids[:levels]), Decimal(0))
    ask = sum((level.qty for level in book.asks[:levels]), Decimal(0))
    return float(bid), float(ask)


# -- feature sets --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """An ordered list of features: the columns of a model's input, in this order."""

    features: tuple[Feature, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)

    @property
    def needs_book(self) -> bool:
        return any(isinstance(feature, BookImbalance) for feature in self.features)


BAR_FEATURES = FeatureSet(
    (
        LogReturn(1),
        LogReturn(5),
        LogReturn(15),
        LogReturn(60),
        RealizedVolatility(30),
        RelativeStrength(14),
        MacdRatio("line"),
        MacdRatio("histogram"),
        BollingerPosition(20, 2.0),
        VolumeZScore(60),
        TimeOfDay("sin"),
        TimeOfDay("cos"),
    )
)
"""Everything computable from OHLCV bars alone (Kraken's downloadable history)."""

BOOK_FEATURES = FeatureSet((*BAR_FEATURES.features, BookImbalance()))
"""The bar features plus order-book imbalance, for bars recorded with book depth."""

KNOWN_FEATURE_SETS = (BAR_FEATURES, BOOK_FEATURES)


class FeatureMismatchError(ValueError):
    """Feature names that no feature set of this code version computes, in that order."""


def resolve_feature_set(names: Sequence[str]) -> FeatureSet:
    """The feature set whose names are exactly `names`, in order (as recorded in a model)."""
    for feature_set in KNOWN_FEATURE_SETS:
        if feature_set.names == tuple(names):
            return feature_set
    known = "; ".join(", ".join(s.names) for s in KNOWN_FEATURE_SETS)
    raise FeatureMismatchError(
        f"no feature set of version {FEATURE_VERSION} has the features "
        f"{', '.join(names) or '(none)'} in that order (known sets: {known})"
    )


def compute_features(frame: pl.DataFrame, feature_set: FeatureSet = BAR_FEATURES) -> pl.DataFrame:
    """The features of every bar in `frame` (ts, close, volume[, bid_depth, ask_depth], time
    order): a frame of ts, close and one column per feature, null during the warm-up and
    wherever a feature is undefined."""
    if feature_set.needs_book:
        missing = [c for c in ("bid_depth", "ask_depth") if c not in frame.columns]
        if missing:
            raise ValueError(
                f"book features need the columns {', '.join(missing)} (depth at each close)"
            )
    warm = pl.int_range(pl.len()) >= WARMUP_BARS - 1
    return frame.select(
        pl.col("ts"),
        pl.col("close"),
        *(
            pl.when(warm).then(feature.expression()).alias(feature.name)
            for feature in feature_set.features
        ),
    )


class LiveFeatures:
    """The same features, one closed bar at a time, for a strategy trading live."""

    __slots__ = ("_count", "_trackers", "feature_set", "last")

    def __init__(self, feature_set: FeatureSet = BAR_FEATURES) -> None:
        self.feature_set = feature_set
        self._trackers = tuple(feature.tracker() for feature in feature_set.features)
        self._count = 0
        self.last: tuple[float | None, ...] = (None,) * len(self._trackers)

    @property
    def bars_seen(self) -> int:
        return self._count

    def update(self, bar: FeatureBar) -> tuple[float | None, ...]:
        """Feed the next closed bar; the features after it (all None during the warm-up).
        Every tracker is fed every bar, so each stays in step with its bulk expression."""
        values = tuple(tracker.update(bar) for tracker in self._trackers)
        self._count += 1
        if self._count < WARMUP_BARS:
            values = (None,) * len(values)
        self.last = values
        return values

    def complete(self) -> tuple[float, ...] | None:
        """The latest feature vector if every feature is defined, else None."""
        last = self.last
        if None in last:
            return None
        return cast(tuple[float, ...], last)
