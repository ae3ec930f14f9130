"""The trade tape's candles: built from the printed trades by the shared `BarBuilder`, for
every interval the `ohlc` channel offers, continuing the synthetic history."""

from __future__ import annotations

from decimal import Decimal as D

from kraken_tui.domain import Side
from kraken_tui.sandbox.records import PublicTrade
from kraken_tui.sandbox.tape import HistoryBar, TradeTape

T0 = 1_764_064_800  # 2025-11-25 10:00 UTC, a multiple of 5 minutes
STEP = D("0.1")


def printed(seconds: float, price: str, qty: str = "1", trade_id: int = 1) -> PublicTrade:
    return PublicTrade("BTC/USD", Side.BUY, D(price), D(qty), "market", trade_id, T0 + seconds)


def test_a_late_trade_is_kept_on_the_tape_but_never_rewrites_a_candle() -> None:
    tape = TradeTape("BTC/USD", STEP)
    tape.record(printed(0, "100"))
    tape.record(printed(61, "110", trade_id=2))
    tape.record(printed(5, "1", "9", trade_id=3))
    minute_bars = tape.ohlc(1)
    assert [(b.interval_begin, b.low, b.volume) for b in minute_bars] == [
        (T0, D("100"), D("1")),
        (T0 + 60, D("110"), D("1")),
    ]
    assert tape.last_trade_id == 3 and len(tape.trades) == 3


def test_trades_continue_the_last_bar_of_the_seeded_history() -> None:
    tape = TradeTape("BTC/USD", STEP)
    tape.seed_history([HistoryBar(T0, D("100"), D("102"), D("99"), D("101"), D("4"), 2)])
    tape.record(printed(30, "103", "2"))
    (bar,) = tape.ohlc(1)
    assert (bar.open, bar.high, bar.low, bar.close) == (D("100"), D("103"), D("99"), D("103"))
    assert (bar.volume, bar.trades) == (D("6"), 3)
    assert bar.vwap == ((D("101") * 4 + D("103") * 2) / 6).quantize(STEP)
    (five,) = tape.ohlc(5)
    assert (five.interval_begin, five.close, five.trades) == (T0, D("103"), 3)
