"""Normalized market data: what the exchange adapter hands to the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from kraken_tui.domain.enums import Side


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """An immutable view of one book, cheap to hand to the UI; best level first on each side."""

    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    ts: datetime | None = None
    stale: bool = False
    sequence: int = 0

    @property
    def best_bid(self) -> BookLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> BookLevel | None:
        return self.asks[0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2

    @property
    def spread(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return self.asks[0].price - self.bids[0].price


@dataclass(frozen=True, slots=True)
class Trade:
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    ts: datetime
    trade_id: int | str | None = None


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    bid: Decimal
    ask: Decimal
    last: Decimal
    volume: Decimal
    vwap: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    change_pct: Decimal | None = None
    ts: datetime | None = None


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLC bar; `ts` is the bar's open time, `interval` is in minutes. A strategy only ever
    sees closed candles (`closed=True`) unless it asks for partial ones."""

    symbol: str
    interval: int
    ts: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int = 0
    closed: bool = True


class CandleView(Protocol):
    """What a strategy may read from a bar. The backtester hands strategies a lazy stand-in
    (`BarCandle`, which skips building four Decimals per bar) instead of a `Candle`; typing
    `on_candle` with this protocol lets the type checker hold both to the same attributes."""

    @property
    def symbol(self) -> str: ...
    @property
    def interval(self) -> int: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def open(self) -> Decimal: ...
    @property
    def high(self) -> Decimal: ...
    @property
    def low(self) -> Decimal: ...
    @property
    def close(self) -> Decimal: ...
    @property
    def volume(self) -> Decimal: ...
    @property
    def trades(self) -> int: ...
    @property
    def closed(self) -> bool: ...
