"""Candles built from trades (for intervals Kraken's ohlc channel lacks) and merged from
smaller closed candles (for the warm-up history of such intervals)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.domain import Candle, Side, Trade
from kraken_tui.exchange.candles import CandleBuilder, aggregate_candles

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def trade(seconds: float, price: str, qty: str = "1") -> Trade:
    return Trade("BTC/USD", Side.BUY, D(price), D(qty), T0 + timedelta(seconds=seconds))


def test_trades_make_a_forming_bar_that_closes_when_the_next_interval_starts() -> None:
    builder = CandleBuilder("BTC/USD", 3)
    builder.add(trade(0, "100"))
    builder.add(trade(30, "105", "2"))
    forming = builder.add(trade(170, "99"))[-1]
    assert (forming.open, forming.high, forming.low, forming.close) == (
        D("100"),
        D("105"),
        D("99"),
        D("99"),
    )
    assert (forming.volume, forming.trades, forming.closed) == (D("4"), 3, False)
    published = builder.add(trade(181, "101"))
    assert [c.closed for c in published] == [True, False]
    assert published[0].ts == T0 and published[1].ts == T0 + timedelta(minutes=3)
    assert published[0].close == D("99")


def test_a_late_trade_never_changes_a_closed_bar() -> None:
    builder = CandleBuilder("BTC/USD", 3)
    builder.add(trade(0, "100"))
    builder.add(trade(200, "110"))
    assert builder.add(trade(10, "1")) == []


@given(st.lists(st.tuples(st.integers(0, 3600), st.integers(1, 1000)), min_size=1, max_size=60))
def test_built_bars_hold_exactly_the_trades_of_their_interval(raw: list[tuple[int, int]]) -> None:
    trades = [trade(s, str(p)) for s, p in sorted(raw)]
    builder = CandleBuilder("BTC/USD", 5)
    bars: dict[datetime, Candle] = {}
    for t in trades:
        for candle in builder.add(t):
            bars[candle.ts] = candle
    for start, bar in bars.items():
        inside = [t for t in trades if start <= t.ts < start + timedelta(minutes=5)]
        assert bar.trades == len(inside)
        assert bar.high == max(t.price for t in inside)
        assert bar.low == min(t.price for t in inside)
        assert bar.open == inside[0].price and bar.close == inside[-1].price


def minute(index: int, price: str) -> Candle:
    p = D(price)
    return Candle("BTC/USD", 1, T0 + timedelta(minutes=index), p, p + 1, p - 1, p, D("2"), 3)


def test_one_minute_history_merges_into_complete_larger_bars_only() -> None:
    history = [minute(i, str(100 + i)) for i in range(7)]  # 10:00 .. 10:06
    merged = aggregate_candles(history, 3)
    assert [c.ts for c in merged] == [T0, T0 + timedelta(minutes=3)]  # 10:06 bar incomplete
    first = merged[0]
    assert (first.open, first.high, first.low, first.close) == (D(100), D(103), D(99), D(102))
    assert (first.volume, first.trades, first.closed) == (D(6), 9, True)
