"""`EngineState`: what the engine knows of the market and its holdings, shared by reference
between the engine and the parts it delegates to (event handlers, operator commands, strategy
intents, alert rules).

The holder itself is never replaced, so every part sees the same values; its fields are
replaced on change (books, tickers, candles and fills are immutable values), which lets a
snapshot hold them as they are. Positions and portfolio are replaced once, at start, when the
exchange has named its instruments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kraken_tui.domain import BookSnapshot, Candle, Execution, Instrument, Ticker
from kraken_tui.engine.portfolio import PortfolioManager
from kraken_tui.engine.positions import PositionManager
from kraken_tui.exchange.protocol import ConnectionStatus


@dataclass(slots=True)
class EngineState:
    positions: PositionManager
    portfolio: PortfolioManager
    portfolio_id: int = 0
    """The store's id of the portfolio positions are saved under; known once started."""
    instruments: dict[str, Instrument] = field(default_factory=dict)
    symbols: tuple[str, ...] = ()
    books: dict[str, BookSnapshot] = field(default_factory=dict)
    tickers: dict[str, Ticker] = field(default_factory=dict)
    candles: dict[str, tuple[Candle, ...]] = field(default_factory=dict)
    recent_fills: tuple[Execution, ...] = ()
    connection: ConnectionStatus | None = None
