"""Value types shared by all layers; no I/O and no framework imports here."""

from kraken_tui.domain.enums import (
    ComponentState,
    ConnectionState,
    Liquidity,
    Mode,
    OrderStatus,
    OrderType,
    Side,
    StrategyState,
    TimeInForce,
    TradingState,
)
from kraken_tui.domain.instrument import Instrument
from kraken_tui.domain.market import BookLevel, BookSnapshot, Candle, CandleView, Ticker, Trade
from kraken_tui.domain.orders import Balance, Execution, Order, OrderRequest, Position

__all__ = [
    "Balance",
    "BookLevel",
    "BookSnapshot",
    "Candle",
    "CandleView",
    "ComponentState",
    "ConnectionState",
    "Execution",
    "Instrument",
    "Liquidity",
    "Mode",
    "Order",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "Position",
    "Side",
    "StrategyState",
    "Ticker",
    "TimeInForce",
    "Trade",
    "TradingState",
]
