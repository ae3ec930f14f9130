"""Helpers of the strategy tests (imported by name: pytest puts this directory on sys.path).

Real instruments (the sandbox's copy of Kraken's pair metadata), a virtual clock, and a
replay helper that feeds candles to a strategy and books its market orders as fills, the way
the engine's position manager would."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kraken_tui.clock import VirtualClock
from kraken_tui.domain import Candle, Instrument, OrderType
from kraken_tui.sandbox.pairs import PairRegistry
from kraken_tui.strategies import BaseStrategy, PlaceOrder, StrategyContext

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def instrument(symbol: str) -> Instrument:
    return PairRegistry().resolve(symbol).to_instrument()


def context_for(symbol: str) -> StrategyContext:
    return StrategyContext(instrument=instrument(symbol), clock=VirtualClock(START))


def candle(
    close: str | Decimal,
    index: int,
    *,
    symbol: str = "BTC/USD",
    closed: bool = True,
    interval: int = 1,
) -> Candle:
    price = Decimal(close)
    return Candle(
        symbol=symbol,
        interval=interval,
        ts=START + timedelta(minutes=index * interval),
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal("1.5"),
        trades=10,
        closed=closed,
    )


@dataclass(frozen=True, slots=True)
class Traded:
    index: int
    order: PlaceOrder


def replay(
    strategy: BaseStrategy, closes: Iterable[str | int], *, first_index: int = 0
) -> list[Traded]:
    """Feed one closed candle per close; every market order fills at that close at once (a
    buy sized in quote gets the volume its amount buys there)."""
    traded: list[Traded] = []
    for offset, close in enumerate(closes):
        index = first_index + offset
        bar = candle(str(close), index, symbol=strategy.symbol)
        clock = strategy.context.clock
        if isinstance(clock, VirtualClock):
            clock.set(bar.ts + timedelta(minutes=1))
        for intent in strategy.on_candle(bar) or ():
            if isinstance(intent, PlaceOrder):
                assert intent.order_type is OrderType.MARKET
                traded.append(Traded(index, intent))
                volume = intent.volume
                if intent.quote_volume is not None:
                    volume = strategy.instrument.round_volume(intent.quote_volume / bar.close)
                strategy.context.position = strategy.context.position.apply(
                    intent.side, volume, bar.close, Decimal(0), bar.ts
                )
    return traded
