"""`EventHandlers`: how each event off the bus changes what the engine knows and what its
strategies hear: books mark positions, fills move positions and the portfolio, candles build
the history strategies warm up on, connection changes degrade or recover the engine.

The engine's event loop decides when an event is handled (in slices, yielding between them);
this decides what handling it means. Values in `EngineState` are replaced, never mutated,
so a snapshot taken before an event keeps showing the state it was taken in.
"""

from __future__ import annotations

from loguru import logger

from kraken_tui.clock import Clock
from kraken_tui.domain import BookSnapshot, Candle, ConnectionState, Execution, Order
from kraken_tui.engine.alert_rules import AlertRules
from kraken_tui.engine.events import AmendRefused, OrderChanged
from kraken_tui.engine.lifecycle import Lifecycle
from kraken_tui.engine.order_manager import OrderManager
from kraken_tui.engine.state import EngineState
from kraken_tui.engine.strategy_manager import StrategyManager
from kraken_tui.exchange.protocol import (
    BalancesEvent,
    BookChanged,
    CandleEvent,
    ConnectionEvent,
    ConnectionStatus,
    Exchange,
    ExchangeError,
    FillEvent,
    OrderEvent,
    TickerEvent,
    TradeEvent,
)
from kraken_tui.store import Store

RECENT_FILLS = 200
CANDLES_KEPT = 500


class EventHandlers:
    def __init__(
        self,
        *,
        exchange: Exchange,
        store: Store,
        clock: Clock,
        state: EngineState,
        orders: OrderManager,
        strategies: StrategyManager,
        lifecycle: Lifecycle,
        alert_rules: AlertRules,
    ) -> None:
        self._exchange = exchange
        self._store = store
        self._clock = clock
        self._state = state
        self._orders = orders
        self._strategies = strategies
        self._lifecycle = lifecycle
        self._alert_rules = alert_rules

    async def handle(self, event: object) -> None:
        state = self._state
        match event:
            case BookChanged(symbol=symbol):
                book = self._exchange.book(symbol)
                if book is None:
                    return
                state.books = {**state.books, symbol: book}
                self.mark(book)
                for host in self._strategies.hosts_for(symbol):
                    self.refresh_strategy_view(host.name, symbol)
                self._strategies.on_book(book)
            case OrderChanged(order=order):
                self._on_order_changed(order)
            case AmendRefused(order=order, reason=reason):
                self._strategies.on_amend_rejected(order, reason)
            case FillEvent(execution=execution):
                await self._on_fill(execution)
            case OrderEvent(update=update):
                self._orders.on_order_update(update)
            case TradeEvent(trade=trade):
                self._strategies.on_trade(trade)
            case CandleEvent(candle=candle):
                self._on_candle(candle)
            case TickerEvent(ticker=ticker):
                state.tickers = {**state.tickers, ticker.symbol: ticker}
            case BalancesEvent(balances=balances):
                state.portfolio.set_balances(balances)
                self._strategies.update_balances({a: b.available for a, b in balances.items()})
            case ConnectionEvent(status=status):
                self._on_connection(status)
            case _:
                logger.debug("engine ignores {}", type(event).__name__)

    def mark(self, book: BookSnapshot) -> None:
        if book.mid is not None and not book.stale:
            self._state.positions.mark(book.symbol, book.mid)

    def refresh_strategy_view(self, strategy: str, symbol: str) -> None:
        self._strategies.update_views(
            strategy,
            self._state.positions.strategy_position(symbol, strategy),
            self._orders.open_orders_of(strategy),
        )

    async def warm_up_strategies(self) -> None:
        """Feed each traded symbol's recent closed candles to its strategies so indicators
        start warm; what they would have done is dropped, since history is no reason to trade
        now. Live candles up to the newest one seen here are then ignored as duplicates."""
        state = self._state
        for symbol in sorted({host.symbol for host in self._strategies.hosts}):
            try:
                candles = await self._exchange.recent_candles(symbol)
            except ExchangeError as exc:
                logger.warning("no candle history for {}, strategies start cold: {}", symbol, exc)
                continue
            if not candles:
                continue
            state.candles = {**state.candles, symbol: tuple(candles[-CANDLES_KEPT:])}
            self._strategies.warm_up(symbol, candles)
            logger.info("strategies on {} warmed up with {} candles", symbol, len(candles))

    def _on_order_changed(self, order: Order) -> None:
        if order.strategy is None:
            return
        self.refresh_strategy_view(order.strategy, order.symbol)
        self._strategies.on_order_update(order)

    async def _on_fill(self, execution: Execution) -> None:
        if not await self._orders.on_execution(execution):
            return
        state = self._state
        strategy = self._orders.strategy_of(execution)
        now = self._clock.now()
        for position in state.positions.apply(execution, strategy):
            self._store.positions.queue_upsert(state.portfolio_id, position, now)
        state.portfolio.apply_fill(execution)
        state.recent_fills = (execution, *state.recent_fills[: RECENT_FILLS - 1])
        if strategy is not None:
            self.refresh_strategy_view(strategy, execution.symbol)
            self._strategies.on_fill(strategy, execution)

    def _on_candle(self, candle: Candle) -> None:
        state = self._state
        history = state.candles.get(candle.symbol, ())
        if candle.closed and any(c.closed and c.ts >= candle.ts for c in history[-2:]):
            return
        if history and not history[-1].closed and history[-1].ts == candle.ts:
            history = history[:-1]
        history = (*history[-(CANDLES_KEPT - 1) :], candle)
        state.candles = {**state.candles, candle.symbol: history}
        if candle.closed:
            self._strategies.on_candle(candle)

    def _on_connection(self, status: ConnectionStatus) -> None:
        self._state.connection = status
        self._alert_rules.track_connection(status)
        if not self._lifecycle.is_live:
            return
        if status.state is ConnectionState.CONNECTED:
            self._lifecycle.recover("exchange connected")
        else:
            self._lifecycle.degrade(f"exchange {status.state}: {status.reason}")
