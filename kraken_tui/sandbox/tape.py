"""Per-pair trade tape: recent trades, OHLC candles, 24 h statistics and spread history.

Candles and ticker statistics are derived from the same trades the `trade` channel prints,
so a client that rebuilds candles from trades gets exactly what `ohlc` reports; the only
exception is the synthetic history a fresh sandbox starts with (`seed_history`), which has
candles but no individual trades behind it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.domain.money import ZERO
from kraken_tui.exchange.candles import BarBuilder, TradeBar
from kraken_tui.sandbox.records import OhlcBar, PublicTrade, SpreadSample

OHLC_INTERVALS: tuple[int, ...] = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
OHLC_MAX_POINTS = 720
_RECENT_TRADES = 1000
_SPREAD_SAMPLES = 1000
_DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class HistoryBar:
    """A 1-minute bar of synthetic history; `begin` is unix seconds."""

    begin: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int


def _ohlc_bar(bar: TradeBar[Decimal], symbol: str, interval: int, price_step: Decimal) -> OhlcBar:
    vwap = (bar.notional / bar.volume).quantize(price_step) if bar.volume else ZERO
    return OhlcBar(
        symbol=symbol,
        interval=interval,
        interval_begin=bar.begin,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        vwap=vwap,
        volume=bar.volume,
        trades=bar.trades,
    )


class TradeTape:
    def __init__(self, symbol: str, price_step: Decimal) -> None:
        self.symbol = symbol
        self._price_step = price_step
        self.trades: deque[PublicTrade] = deque(maxlen=_RECENT_TRADES)
        self._builders: dict[int, BarBuilder[Decimal]] = {
            interval: BarBuilder(interval * 60) for interval in OHLC_INTERVALS
        }
        self._bars: dict[int, deque[TradeBar[Decimal]]] = {
            interval: deque(maxlen=max(OHLC_MAX_POINTS, _DAY_S // 60 if interval == 1 else 0))
            for interval in OHLC_INTERVALS
        }
        self.spreads: deque[SpreadSample] = deque(maxlen=_SPREAD_SAMPLES)
        self.last_trade_id = 0

    @property
    def last(self) -> PublicTrade | None:
        return self.trades[-1] if self.trades else None

    def record(self, trade: PublicTrade) -> None:
        self.trades.append(trade)
        self.last_trade_id = trade.trade_id
        second = int(trade.timestamp)
        for interval, builder in self._builders.items():
            builder.add(second, trade.price, trade.qty)
            self._keep_forming(interval, builder)

    def seed_history(self, minute_bars: Sequence[HistoryBar]) -> None:
        """Load 1-minute bars from before the tape's first trade (oldest first), and the
        larger intervals built from them, so a fresh exchange answers OHLC with history.
        Ignored once trades exist: history never rewrites what was traded."""
        if self.trades or any(self._bars.values()):
            return
        for bar in minute_bars:
            for interval, builder in self._builders.items():
                builder.add_bar(
                    bar.begin,
                    bar.open,
                    bar.high,
                    bar.low,
                    bar.close,
                    bar.volume,
                    bar.close * bar.volume,
                    bar.trades,
                )
                self._keep_forming(interval, builder)

    def _keep_forming(self, interval: int, builder: BarBuilder[Decimal]) -> None:
        """Keep the builder's forming bar as the newest of the interval's history (it is
        mutable: later trades update it in place)."""
        bars = self._bars[interval]
        forming = builder.forming
        if forming is not None and (not bars or bars[-1] is not forming):
            bars.append(forming)

    def ohlc(self, interval: int, since: int | None = None) -> list[OhlcBar]:
        bars = self._bars[interval]
        selected = [bar for bar in bars if since is None or bar.begin >= since]
        return [
            _ohlc_bar(bar, self.symbol, interval, self._price_step)
            for bar in selected[-OHLC_MAX_POINTS:]
        ]

    def window_stats(self, since: float) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal, int]:
        """(open, high, low, volume, vwap, trades) over 1-minute bars starting at or after
        `since`; all zero when nothing traded."""
        bars = [bar for bar in self._bars[1] if bar.begin >= since]
        if not bars:
            return ZERO, ZERO, ZERO, ZERO, ZERO, 0
        volume = sum((bar.volume for bar in bars), ZERO)
        notional = sum((bar.notional for bar in bars), ZERO)
        vwap = (notional / volume).quantize(self._price_step) if volume else ZERO
        return (
            bars[0].open,
            max(bar.high for bar in bars),
            min(bar.low for bar in bars),
            volume,
            vwap,
            sum(bar.trades for bar in bars),
        )

    def note_spread(self, sample: SpreadSample) -> None:
        last = self.spreads[-1] if self.spreads else None
        if last is None or (last.bid, last.ask, last.bid_qty, last.ask_qty) != (
            sample.bid,
            sample.ask,
            sample.bid_qty,
            sample.ask_qty,
        ):
            self.spreads.append(sample)
