"""The public side of the venue: each pair's order book and trade tape, and what they show.

Everything here is a read (book levels, ticker, trades, candles, spreads) answered from the
books and tapes the venue's trading keeps up to date; `SandboxVenue` builds on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from kraken_tui.domain.enums import Side
from kraken_tui.domain.money import ZERO
from kraken_tui.sandbox.errors import VenueError, invalid_argument
from kraken_tui.sandbox.matching import LevelCallback, OrderBook
from kraken_tui.sandbox.pairs import PairRegistry
from kraken_tui.sandbox.records import BookLevels, OhlcBar, PublicTrade, SpreadSample, TickerStats
from kraken_tui.sandbox.tape import OHLC_INTERVALS, HistoryBar, TradeTape

_DAY_S = 86_400


class MarketData:
    def __init__(
        self, pairs: PairRegistry, clock: Callable[[], float], on_level: LevelCallback
    ) -> None:
        """`on_level` hears every change of a book level's aggregated quantity."""
        self._pairs = pairs
        self._clock = clock
        self._books: dict[str, OrderBook] = {}
        self._tapes: dict[str, TradeTape] = {}
        for pair in pairs:
            self._books[pair.symbol] = OrderBook(pair.symbol, on_level)
            self._tapes[pair.symbol] = TradeTape(pair.symbol, pair.price_step)

    @property
    def pairs(self) -> PairRegistry:
        return self._pairs

    def now(self) -> float:
        return self._clock()

    def book(self, pair: str, depth: int = 10) -> BookLevels:
        """Aggregated top `depth` levels per side (cost O(depth)), e.g. for checksums."""
        symbol = self._pairs.resolve(pair).symbol
        book = self._books[symbol]
        return BookLevels(symbol, book.top(Side.BUY, depth), book.top(Side.SELL, depth), self.now())

    def ticker(self, pair: str) -> TickerStats:
        info = self._pairs.resolve(pair)
        book = self._books[info.symbol]
        tape = self._tapes[info.symbol]
        bid = book.best(Side.BUY) or (ZERO, ZERO)
        ask = book.best(Side.SELL) or (ZERO, ZERO)
        last = tape.last
        now = self.now()
        open_, high, low, volume, vwap, trades = tape.window_stats(now - _DAY_S)
        midnight = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0)
        t_open, t_high, t_low, t_volume, t_vwap, t_trades = tape.window_stats(midnight.timestamp())
        last_price = last.price if last else ZERO
        change = last_price - open_ if trades else ZERO
        change_pct = (change / open_ * 100).quantize(Decimal("0.01")) if open_ else ZERO
        return TickerStats(
            symbol=info.symbol,
            bid=bid[0],
            bid_qty=bid[1],
            ask=ask[0],
            ask_qty=ask[1],
            last=last_price,
            last_qty=last.qty if last else ZERO,
            volume=volume,
            vwap=vwap,
            low=low,
            high=high,
            open=open_,
            change=change,
            change_pct=change_pct,
            trades=trades,
            volume_today=t_volume,
            vwap_today=t_vwap,
            low_today=t_low,
            high_today=t_high,
            trades_today=t_trades,
            open_today=t_open,
        )

    def recent_trades(
        self, pair: str, *, since: float | None = None, count: int = 1000
    ) -> list[PublicTrade]:
        """Oldest first; `since` (unix seconds) keeps only later trades."""
        tape = self._tapes[self._pairs.resolve(pair).symbol]
        trades = [t for t in tape.trades if since is None or t.timestamp > since]
        return trades[-count:] if count > 0 else []

    def seed_history(self, pair: str, minute_bars: Sequence[HistoryBar]) -> None:
        """Give a fresh pair candle history from before the venue opened (see TradeTape)."""
        self._tapes[self._pairs.resolve(pair).symbol].seed_history(minute_bars)

    def ohlc(self, pair: str, interval: int = 1, *, since: int | None = None) -> list[OhlcBar]:
        if interval not in OHLC_INTERVALS:
            raise VenueError(invalid_argument("interval"))
        return self._tapes[self._pairs.resolve(pair).symbol].ohlc(interval, since)

    def spread(self, pair: str, *, since: float | None = None) -> list[SpreadSample]:
        tape = self._tapes[self._pairs.resolve(pair).symbol]
        return [s for s in tape.spreads if since is None or s.time > since]

    def last_price(self, pair: str) -> Decimal | None:
        last = self._tapes[self._pairs.resolve(pair).symbol].last
        return last.price if last else None

    def best_price(self, pair: str, side: Side) -> Decimal | None:
        return self._books[self._pairs.resolve(pair).symbol].best_price(side)

    def level_count(self, pair: str, side: Side) -> int:
        return self._books[self._pairs.resolve(pair).symbol].level_count(side)

    def sample_spreads(self, symbols: Iterable[str], now: float) -> None:
        """Record the spread of pairs whose top of book moved (Kraken's Spread endpoint)."""
        for symbol in symbols:
            book = self._books[symbol]
            bid, ask = book.best(Side.BUY), book.best(Side.SELL)
            if bid is not None and ask is not None:
                self._tapes[symbol].note_spread(SpreadSample(now, bid[0], ask[0], bid[1], ask[1]))
