"""Backtesting: historical Kraken data replayed through the live strategies, risk checks and
the sandbox's matching engine on virtual time."""

from kraken_tui.backtest.data import (
    Bars,
    DataError,
    fill_gaps,
    find_gaps,
    load_ohlcvt,
    load_trades,
    resample,
    to_candles,
    trades_to_bars,
)

__all__ = [
    "Bars",
    "DataError",
    "fill_gaps",
    "find_gaps",
    "load_ohlcvt",
    "load_trades",
    "resample",
    "to_candles",
    "trades_to_bars",
]
