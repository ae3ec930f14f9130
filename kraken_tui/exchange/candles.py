"""Candles built from trades, for intervals Kraken's `ohlc` channel does not offer.

Kraken streams candles only for 1, 5, 15, 30, 60, 240, 1440, 10080 and 21600 minutes. A
strategy that wants, say, 3-minute bars gets them from the trade stream instead: each trade
updates the forming bar of its interval, and the bar closes when a trade of a later interval
arrives (an interval without trades produces no bar, as in Kraken's own OHLC data).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from kraken_tui.domain import Candle, Trade

KRAKEN_OHLC_INTERVALS = frozenset({1, 5, 15, 30, 60, 240, 1440, 10080, 21600})


class CandleBuilder:
    """Aggregates one symbol's trades into `interval`-minute candles aligned to the epoch."""

    def __init__(self, symbol: str, interval: int) -> None:
        if interval <= 0:
            raise ValueError(f"candle interval must be positive, got {interval}")
        self.symbol = symbol
        self.interval = interval
        self._seconds = interval * 60
        self._forming: Candle | None = None

    def add(self, trade: Trade) -> list[Candle]:
        """Apply a trade; returns the candles to publish: the closed previous bar (if this
        trade starts a new interval) and the forming bar as it now stands. A trade older than
        the forming bar (out of order) is ignored: it cannot change a closed bar."""
        start = self._interval_start(trade.ts)
        forming = self._forming
        if forming is not None and start < forming.ts:
            return []
        published: list[Candle] = []
        if forming is None or start > forming.ts:
            if forming is not None:
                published.append(replace(forming, closed=True))
            forming = Candle(
                symbol=self.symbol,
                interval=self.interval,
                ts=start,
                open=trade.price,
                high=trade.price,
                low=trade.price,
                close=trade.price,
                volume=trade.qty,
                trades=1,
                closed=False,
            )
        else:
            forming = replace(
                forming,
                high=max(forming.high, trade.price),
                low=min(forming.low, trade.price),
                close=trade.price,
                volume=forming.volume + trade.qty,
                trades=forming.trades + 1,
            )
        self._forming = forming
        published.append(forming)
        return published

    def _interval_start(self, ts: datetime) -> datetime:
        seconds = int(ts.timestamp()) // self._seconds * self._seconds
        return datetime.fromtimestamp(seconds, UTC)


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
