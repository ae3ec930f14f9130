"""Candles built from trades: the one place that turns a trade stream into OHLC bars.

Kraken streams candles only for 1, 5, 15, 30, 60, 240, 1440, 10080 and 21600 minutes. A
strategy that wants, say, 3-minute bars gets them from the trade stream instead; the sandbox
builds the `ohlc` channel and endpoint from the trades it prints, and a trade-by-trade backtest
builds the bars its strategy sees. All three use `BarBuilder`: each trade updates the forming
bar of its interval, the bar closes when a trade of a later interval arrives (an interval
without trades produces no bar, as in Kraken's own OHLC data), and a trade older than the
forming bar is ignored, because it cannot change a bar that already closed.

`BarBuilder` works on plain numbers (Decimal for money, float in the backtest's hot loop) and
integer times in any unit, and its bars are mutable: adding a trade costs a few comparisons,
not a new object. `CandleBuilder` wraps it for the exchange adapter, which publishes domain
`Candle`s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Generic, TypeVar

from kraken_tui.domain import Candle, Trade

KRAKEN_OHLC_INTERVALS = frozenset({1, 5, 15, 30, 60, 240, 1440, 10080, 21600})

Number = TypeVar("Number", float, Decimal)


class TradeBar(Generic[Number]):
    """One bar: `begin` in the builder's time unit; `notional` (sum of price × qty) gives the
    volume-weighted price Kraken's candles carry."""

    __slots__ = ("begin", "close", "high", "low", "notional", "open", "trades", "volume")

    def __init__(
        self,
        begin: int,
        open_: Number,
        high: Number,
        low: Number,
        close: Number,
        volume: Number,
        notional: Number,
        trades: int,
    ) -> None:
        self.begin = begin
        self.open: Number = open_
        self.high: Number = high
        self.low: Number = low
        self.close: Number = close
        self.volume: Number = volume
        self.notional: Number = notional
        self.trades = trades

    def absorb(
        self,
        high: Number,
        low: Number,
        close: Number,
        volume: Number,
        notional: Number,
        trades: int,
    ) -> None:
        if high > self.high:
            self.high = high
        if low < self.low:
            self.low = low
        self.close = close
        self.volume += volume
        self.notional += notional
        self.trades += trades


class BarBuilder(Generic[Number]):
    """Bars of `span` time units aligned to time 0 (the epoch), fed oldest first.

    `forming` is the bar the latest trade went into; `closed` is the bar that trade closed
    (None when it stayed in the same bar). Callers that publish bars read both after `add`.
    """

    __slots__ = ("closed", "forming", "span")

    def __init__(self, span: int) -> None:
        if span <= 0:
            raise ValueError(f"bar span must be positive, got {span}")
        self.span = span
        self.forming: TradeBar[Number] | None = None
        self.closed: TradeBar[Number] | None = None

    def add(self, time: int, price: Number, qty: Number) -> bool:
        """Apply one trade; False when it is older than the forming bar and was ignored."""
        return self.add_bar(time, price, price, price, price, qty, price * qty, 1)

    def add_bar(
        self,
        time: int,
        open_: Number,
        high: Number,
        low: Number,
        close: Number,
        volume: Number,
        notional: Number,
        trades: int,
    ) -> bool:
        """Apply a bar of a smaller span starting at `time` (a trade is a bar of one print),
        so history kept as small bars rebuilds larger ones the way trades would."""
        begin = time - time % self.span
        forming = self.forming
        if forming is not None:
            if begin == forming.begin:
                self.closed = None
                forming.absorb(high, low, close, volume, notional, trades)
                return True
            if begin < forming.begin:
                self.closed = None
                return False
        self.closed = forming
        self.forming = TradeBar(begin, open_, high, low, close, volume, notional, trades)
        return True


class CandleBuilder:
    """Aggregates one symbol's trades into `interval`-minute domain candles."""

    def __init__(self, symbol: str, interval: int) -> None:
        if interval <= 0:
            raise ValueError(f"candle interval must be positive, got {interval}")
        self.symbol = symbol
        self.interval = interval
        self._bars: BarBuilder[Decimal] = BarBuilder(interval * 60)

    def add(self, trade: Trade) -> list[Candle]:
        """Apply a trade; returns the candles to publish: the closed previous bar (if this
        trade starts a new interval) and the forming bar as it now stands; nothing for a
        trade older than the forming bar."""
        bars = self._bars
        if not bars.add(int(trade.ts.timestamp()), trade.price, trade.qty):
            return []
        assert bars.forming is not None
        forming = self._candle(bars.forming, closed=False)
        if bars.closed is None:
            return [forming]
        return [self._candle(bars.closed, closed=True), forming]

    def _candle(self, bar: TradeBar[Decimal], *, closed: bool) -> Candle:
        return Candle(
            symbol=self.symbol,
            interval=self.interval,
            ts=datetime.fromtimestamp(bar.begin, UTC),
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=bar.volume,
            trades=bar.trades,
            closed=closed,
        )


def aggregate_candles(candles: list[Candle], interval: int) -> list[Candle]:
    """Closed candles of a smaller interval (oldest first) merged into `interval`-minute
    ones. The newest group is kept only if its source candles reach its end, so every
    result is a closed bar; earlier groups are closed by the later candles that follow."""
    seconds = interval * 60
    groups: dict[int, list[Candle]] = {}
    for candle in candles:
        start = int(candle.ts.timestamp()) // seconds * seconds
        groups.setdefault(start, []).append(candle)
    if groups:
        newest = max(groups)
        last = groups[newest][-1]
        if last.ts.timestamp() + last.interval * 60 < newest + seconds:
            del groups[newest]
    return [
        Candle(
            symbol=members[0].symbol,
            interval=interval,
            ts=datetime.fromtimestamp(start, UTC),
            open=members[0].open,
            high=max(c.high for c in members),
            low=min(c.low for c in members),
            close=members[-1].close,
            volume=sum((c.volume for c in members), Decimal(0)),
            trades=sum(c.trades for c in members),
            closed=True,
        )
        for start, members in groups.items()
    ]
