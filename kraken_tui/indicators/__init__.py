"""Incremental technical indicators shared by live strategies, backtests and ML features.

Each indicator is fed one observation at a time in O(1) and returns its current value, or None
while warming up; see `Indicator` for the common surface. `kraken_tui.indicators.bulk` states
the same indicators as polars expressions that agree with these classes value for value.
"""

from kraken_tui.indicators.atr import ATR
from kraken_tui.indicators.base import Indicator
from kraken_tui.indicators.bollinger import BollingerBands, BollingerValue
from kraken_tui.indicators.macd import MACD, MACDValue
from kraken_tui.indicators.moving_average import EMA, SMA
from kraken_tui.indicators.rsi import RSI
from kraken_tui.indicators.vwap import RollingVWAP, SessionVWAP

__all__ = [
    "ATR",
    "EMA",
    "MACD",
    "RSI",
    "SMA",
    "BollingerBands",
    "BollingerValue",
    "Indicator",
    "MACDValue",
    "RollingVWAP",
    "SessionVWAP",
]
