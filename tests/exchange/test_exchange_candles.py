"""Candles built from trades (the one builder the adapter, the sandbox and the trade-by-trade
backtest share) and merged from smaller closed candles (for the warm-up history of intervals
Kraken's ohlc channel lacks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.domain import Candle, Side, Trade
from kraken_tui.exchange.candles import BarBuilder, CandleBuilder, TradeBar, aggregate_candles

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


Bar = tuple[int, D, D, D, D, D, D, int]
"""begin, open, high, low, close, volume, notional, trades"""


def reference_bars(trades: list[tuple[int, D, D]], span: int) -> list[Bar]:
    """The bars by definition: drop each trade older than the newest interval seen so far,
    then group the rest by interval."""
    groups: dict[int, list[tuple[D, D]]] = {}
    newest: int | None = None
    for time, price, qty in trades:
        begin = time // span * span
        if newest is not None and begin < newest:
            continue
        newest = begin
        groups.setdefault(begin, []).append((price, qty))
    return [
        (
            begin,
            prints[0][0],
            max(p for p, _ in prints),
            min(p for p, _ in prints),
            prints[-1][0],
            sum((q for _, q in prints), D(0)),
            sum((p * q for p, q in prints), D(0)),
            len(prints),
        )
        for begin, prints in groups.items()
    ]


def as_tuple(bar: TradeBar[D]) -> Bar:
    return (bar.begin, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.notional, bar.trades)


@given(
    st.lists(
        st.tuples(st.integers(-600, 3600), st.integers(1, 1000), st.integers(1, 50)), max_size=80
    ),
    st.sampled_from([1, 60, 180, 300]),
)
def test_bar_builder_matches_the_reference_even_with_trades_out_of_order(
    raw: list[tuple[int, int, int]], span: int
) -> None:
    trades = [(t, D(p), D(q)) for t, p, q in raw]
    builder: BarBuilder[D] = BarBuilder(span)
    built: list[Bar] = []
    for time, price, qty in trades:
        before = builder.forming and as_tuple(builder.forming)
        applied = builder.add(time, price, qty)
        if not applied:
            assert builder.forming is not None and as_tuple(builder.forming) == before
        if builder.closed is not None:
            built.append(as_tuple(builder.closed))
    if builder.forming is not None:
        built.append(as_tuple(builder.forming))
    assert built == reference_bars(trades, span)


def test_smaller_bars_build_a_larger_bar_as_their_trades_would() -> None:
    from_trades: BarBuilder[D] = BarBuilder(300)
    from_bars: BarBuilder[D] = BarBuilder(300)
    minute_bar: BarBuilder[D] = BarBuilder(60)
    for time, price in [(0, "10"), (30, "12"), (60, "9"), (290, "11")]:
        from_trades.add(time, D(price), D(2))
        minute_bar.add(time, D(price), D(2))
        if minute_bar.closed is not None:
            closed = minute_bar.closed
            from_bars.add_bar(
                closed.begin,
                closed.open,
                closed.high,
                closed.low,
                closed.close,
                closed.volume,
                closed.notional,
                closed.trades,
            )
    last = minute_bar.forming
    assert last is not None and from_trades.forming is not None
    from_bars.add_bar(
        last.begin,
        last.open,
        last.high,
        last.low,
        last.close,
        last.volume,
        last.notional,
        last.trades,
    )
    assert from_bars.forming is not None
    assert as_tuple(from_bars.forming) == as_tuple(from_trades.forming)


def test_float_bars_for_the_backtest_hot_loop_use_the_same_rules() -> None:
    builder: BarBuilder[float] = BarBuilder(60_000_000)
    assert builder.add(59_999_999, 100.0, 1.0) and builder.closed is None
    assert builder.add(60_000_000, 101.0, 0.5) and builder.closed is not None
    assert (builder.closed.begin, builder.closed.close) == (0, 100.0)
    assert not builder.add(1, 1.0, 1.0)
    assert builder.forming is not None and builder.forming.low == 101.0


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
