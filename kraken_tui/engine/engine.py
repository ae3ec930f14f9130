"""TradingEngine: wires exchange, bus, strategies, risk, orders, positions, portfolio and store,
and implements `EngineApi` for the UI, headless mode and remote control.

Shape of a run::

    engine = TradingEngine(exchange, store, EngineConfig.from_settings(settings))
    await engine.start()             # connect, reconcile, rebuild, load strategies, trade
    ...                              # snapshot() / commands from the UI or ctl
    await engine.stop(cancel_open_orders=True)

or `await engine.run(stop_event, duration_s)` for headless mode. The store is the caller's:
the engine neither opens nor closes it.

Start-up steps live in `startup`, periodic jobs in `housekeeping`. What stays here (over 600
lines) is the wiring and the `EngineApi` commands and event handlers, which all read and
write the same engine state; split further, each part would need most of that state passed in.

Loop discipline (see docs/design ui-load-probe): events are handled in slices of at most
`slice_s` (2 ms) and the loop yields between slices, so a UI sharing the loop stays responsive;
snapshot parts are immutable values replaced on change, so `snapshot()` is O(1).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from loguru import logger

from kraken_tui.alerts.alert import AlertKind, AlertLevel
from kraken_tui.alerts.board import AlertBoard
from kraken_tui.clock import Clock, WallClock
from kraken_tui.domain import (
    BookSnapshot,
    Candle,
    ComponentState,
    ConnectionState,
    Execution,
    Instrument,
    Mode,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    StrategyState,
    Ticker,
    TimeInForce,
    TradingState,
)
from kraken_tui.domain.orders import check_size
from kraken_tui.engine.api import (
    CommandResult,
    EngineSnapshot,
    LogLine,
    ManualOrder,
    RiskDecision,
)
from kraken_tui.engine.bus import EventBus, Subscription
from kraken_tui.engine.dead_man import DeadManSwitch
from kraken_tui.engine.events import AmendRefused, OrderChanged
from kraken_tui.engine.housekeeping import (
    Interval,
    check_balances,
    persist_strategy_states,
    queue_equity_snapshot,
)
from kraken_tui.engine.lifecycle import Lifecycle
from kraken_tui.engine.order_manager import LookupPolicy, OrderManager, new_cl_ord_id
from kraken_tui.engine.order_sync import OrderSync
from kraken_tui.engine.order_text import size_text
from kraken_tui.engine.portfolio import BalanceMismatch, PortfolioManager
from kraken_tui.engine.positions import PositionManager
from kraken_tui.engine.reconciliation import Reconciler
from kraken_tui.engine.risk import ProposedOrder, RiskContext, RiskLimits, RiskManager
from kraken_tui.engine.startup import (
    TRADING_STATE_KEY,
    check_balances_at_start,
    load_strategies,
    rebuild_positions,
    restore_trading_state,
)
from kraken_tui.engine.strategy_manager import (
    DEFAULT_CALL_BUDGET_S,
    StrategyHost,
    StrategyManager,
)
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
from kraken_tui.logging import LogBuffer
from kraken_tui.settings import Settings, StrategyConfig
from kraken_tui.store import Store
from kraken_tui.strategies import AmendOrder, CancelAll, CancelOrder, Intent, PlaceOrder

RECENT_FILLS = 200
CANDLES_KEPT = 500


@dataclass(frozen=True, slots=True)
class EngineConfig:
    mode: Mode = Mode.SANDBOX
    live_host_override: str | None = None
    symbols: tuple[str, ...] = ()
    book_depth: int = 10
    strategies: Sequence[StrategyConfig] = ()
    strategy_dir: Path = Path("strategies")
    limits: RiskLimits = field(default_factory=RiskLimits)
    cancel_on_pause: bool = False
    cancel_on_shutdown: bool = True
    dead_man_timeout_s: int = 60
    call_budget_s: float = DEFAULT_CALL_BUDGET_S
    quote_ccy: str = "USD"
    slice_s: float = 0.002
    housekeeping_s: float = 0.25
    equity_snapshot_s: float = 10.0
    state_save_s: float = 5.0
    balance_check_s: float = 60.0
    order_sync_s: float = 30.0
    shutdown_timeout_s: float = 5.0
    bus_capacity: int = 10_000
    lookup: LookupPolicy = field(default_factory=LookupPolicy)
    alert_repeat_s: float = 300.0
    connection_lost_after_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        return cls(
            mode=Mode(settings.mode),
            live_host_override=settings.live_host_override(),
            symbols=settings.traded_symbols(),
            book_depth=settings.book_depth,
            strategies=tuple(settings.strategies),
            strategy_dir=settings.strategy_dir,
            call_budget_s=settings.strategy_budget_ms / 1000,
            limits=RiskLimits.from_settings(settings.risk),
            cancel_on_pause=settings.risk.cancel_on_pause,
            cancel_on_shutdown=settings.risk.cancel_on_shutdown,
            dead_man_timeout_s=settings.exchange.dead_man_switch_timeout_s,
            alert_repeat_s=settings.alerts.repeat_interval_s,
            connection_lost_after_s=settings.alerts.connection_lost_after_s,
        )


class TradingEngine:
    def __init__(
        self,
        exchange: Exchange,
        store: Store,
        config: EngineConfig,
        *,
        clock: Clock | None = None,
        log_buffer: LogBuffer | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or WallClock()
        self.exchange = exchange
        self.store = store
        self.lifecycle = Lifecycle("engine", self.clock)
        self.bus = EventBus(config.bus_capacity)
        self.risk = RiskManager(config.limits, self.clock)
        self.orders = OrderManager(exchange, store, self.clock, lookup=config.lookup)
        self.strategies = StrategyManager(
            self.clock, call_budget_s=config.call_budget_s, strategy_dir=config.strategy_dir
        )
        self.positions = PositionManager({})
        self.portfolio = PortfolioManager(config.quote_ccy, {}, self.clock)
        self.order_sync = OrderSync(exchange, self.orders, self.bus.publish, self.clock)
        self.alerts = AlertBoard(self.clock, config.alert_repeat_s)
        self.alerts.on_change(self._touch)
        self.strategies.on_error(self._alert_strategy_error)
        self.dead_man = DeadManSwitch(
            exchange,
            config.dead_man_timeout_s,
            lambda: bool(self.orders.open_orders),
            on_refresh_failed=self._alert_dead_man,
        )
        self._log_buffer = log_buffer
        self._events: Subscription = self.bus.subscribe(
            "engine", capacity=config.bus_capacity, on_lagging=self._on_lagging
        )
        self._instruments: dict[str, Instrument] = {}
        self._symbols: tuple[str, ...] = ()
        self._books: dict[str, BookSnapshot] = {}
        self._tickers: dict[str, Ticker] = {}
        self._candles: dict[str, tuple[Candle, ...]] = {}
        self._recent_fills: tuple[Execution, ...] = ()
        self._connection: ConnectionStatus | None = None
        self._connection_lost_at: float | None = None
        """Monotonic time the exchange connection went down, while it is down."""
        self._connection_loss_alerted = False
        self._alerted_trading_state = TradingState.ACTIVE
        self._balance_suspects: frozenset[str] = frozenset()
        self._baseline: dict[str, Decimal] = {}
        self._portfolio_id = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[object]] = set()
        self._stopping = False
        self._snapshot: EngineSnapshot | None = None
        self.events_handled = 0
        self.max_slice_ms = 0.0
        self.orders.on_change(lambda order: self.bus.publish(OrderChanged(order)))
        self._manual_amend_refusals: dict[str, str] = {}
        """The exchange's reason for refusing an operator's amend, kept until `amend_order`
        reports it (a strategy hears of its own refusals through the bus)."""
        self.orders.on_amend_refused(self._on_amend_refused)
        self.lifecycle.on_change(lambda _: self._touch())

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, restore, reconcile and start trading; raises if any step fails (the engine
        is then FAULTED and nothing was traded)."""
        self.lifecycle.transition(ComponentState.STARTING)
        try:
            await self._start()
        except asyncio.CancelledError:
            self.lifecycle.transition(ComponentState.STOPPING, "start cancelled")
            self.lifecycle.transition(ComponentState.STOPPED, "start cancelled")
            raise
        except BaseException as exc:
            self.lifecycle.transition(ComponentState.FAULTED, f"start failed: {exc}")
            raise
        self.lifecycle.transition(ComponentState.RUNNING, "trading")
        self._tasks = [
            asyncio.create_task(self._process_events(), name="engine events"),
            asyncio.create_task(self._housekeeping(), name="engine housekeeping"),
            asyncio.create_task(self.dead_man.run(), name="dead man's switch"),
        ]

    async def _start(self) -> None:
        now = self.clock.now()
        self.exchange.set_event_handler(self.bus.publish)
        await self.exchange.connect()
        self._connection = self.exchange.connection
        self._instruments = dict(self.exchange.instruments)
        unknown = [s for s in self.config.symbols if s not in self._instruments]
        if unknown:
            raise ExchangeError(f"the exchange does not list {', '.join(unknown)}")
        self._symbols = self.config.symbols
        self.positions = PositionManager(self._instruments)
        self.portfolio = PortfolioManager(
            self.config.quote_ccy, self._instruments, self.clock, valued_symbols=self._symbols
        )
        await restore_trading_state(self.store, self.risk, self.exchange)
        report = await Reconciler(self.exchange, self.store, self.orders, self.clock).run()
        if report.unresolved:
            self.alerts.raise_alert(
                AlertLevel.ERROR,
                AlertKind.RECONCILIATION,
                f"Reconciliation at start: {report.unresolved} orders unknown to the exchange",
                f"{report.summary()}; see the reconciliation log",
                subject="orders",
            )
        await rebuild_positions(self.store, self.orders, self.positions)
        self._portfolio_id = await self.store.positions.ensure_portfolio(
            "default", self.config.quote_ccy, now
        )
        for position in self.positions.positions:
            self.store.positions.queue_upsert(self._portfolio_id, position, now)
        balances, self._baseline, mismatches = await check_balances_at_start(
            self.exchange, self.store, self.positions, self.portfolio, now
        )
        if mismatches:
            self._alert_balance_mismatch("at start", mismatches)
        await load_strategies(
            self.store, self.strategies, self.config.strategies, self._instruments, now
        )
        for host in self.strategies.hosts:
            self._refresh_strategy_view(host.name, host.symbol)
        self.strategies.update_balances({a: b.available for a, b in balances.items()})
        await self.exchange.subscribe_market(self._symbols, self.config.book_depth)
        for symbol in self._symbols:
            book = self.exchange.book(symbol)
            if book is not None:
                self._books = {**self._books, symbol: book}
                self._mark(book)
        if self.risk.trading_state is TradingState.HALTED:
            for host in self.strategies.hosts:
                self.strategies.pause(host.name)
        await self._revalue()
        self._alert_trading_state()
        self.strategies.set_sink(self._on_intent)
        self.strategies.start()
        await self._warm_up_strategies()
        logger.info(
            "engine started in {} mode: {} symbols, {} strategies, {}",
            self.config.mode,
            len(self._symbols),
            len(self.strategies.hosts),
            report.summary(),
        )

    async def stop(self, cancel_open_orders: bool) -> None:
        """Stop trading. With `cancel_open_orders` every order is cancelled and the dead man's
        switch disarmed; without, orders stay on the book under an armed switch, which cancels
        them `dead_man_timeout_s` later unless an engine restarts and refreshes it."""
        if self.lifecycle.state is ComponentState.FAULTED:
            await self.exchange.close()
            self.lifecycle.transition(ComponentState.STOPPED, "stopped after a fault")
            return
        if self._stopping or not self.lifecycle.is_live:
            return
        self._stopping = True
        self.lifecycle.transition(ComponentState.STOPPING, "stop requested")
        self.strategies.stop(leave_orders=not cancel_open_orders)
        for task in self._tasks[1:]:
            task.cancel()
        await asyncio.gather(*self._tasks[1:], return_exceptions=True)
        try:
            if cancel_open_orders:
                if self.orders.open_orders:
                    await self.orders.cancel_all()
                await self.orders.close(self.config.shutdown_timeout_s)
                await self._settle_cancellations()
                await self.dead_man.disarm()
            else:
                await self.dead_man.refresh()
                if self.orders.open_orders:
                    logger.warning(
                        "{} orders left open; the dead man's switch cancels them in {} s",
                        len(self.orders.open_orders),
                        self.dead_man.timeout_s,
                    )
                await self.orders.close(self.config.shutdown_timeout_s)
        except ExchangeError as exc:
            logger.error("shutdown: exchange request failed: {}", exc)
        await asyncio.sleep(0)
        await self._drain()
        self._events.close()
        await asyncio.gather(self._tasks[0], return_exceptions=True)
        await self._persist_strategy_states()
        self._queue_equity_snapshot()
        await self.store.writer.flush()
        await self.exchange.close()
        self.lifecycle.transition(ComponentState.STOPPED, "stopped")

    async def _settle_cancellations(self, within_s: float = 2.0) -> None:
        """After the shutdown cancel-all, wait for the exchange's confirmations so the store
        records the orders as cancelled; what is still unconfirmed is looked up over REST.
        Orders never acknowledged are left to start-up reconciliation, as `orders.close` says."""

        def unsettled() -> bool:
            return any(o.status is not OrderStatus.PENDING_NEW for o in self.orders.open_orders)

        settled = asyncio.Event()
        self.orders.on_change(lambda _order: None if unsettled() else settled.set())
        for attempt in range(2):
            if not unsettled():
                return
            if attempt:
                await self.sync_orders()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(settled.wait(), within_s)

    async def run(self, stop: asyncio.Event | None = None, duration_s: float | None = None) -> None:
        """Headless convenience: start, trade until `stop` is set or `duration_s` passes, then
        stop with the configured `cancel_on_shutdown`."""
        await self.start()
        try:
            waiter = (stop or asyncio.Event()).wait()
            await asyncio.wait_for(waiter, timeout=duration_s)
        except TimeoutError:
            logger.info("run duration of {} s elapsed", duration_s)
        finally:
            await self.stop(self.config.cancel_on_shutdown)

    # -- EngineApi: reads ----------------------------------------------------------------------

    def snapshot(self) -> EngineSnapshot:
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = EngineSnapshot(
                mode=self.config.mode,
                live_host_override=self.config.live_host_override,
                state=self.lifecycle.state,
                ts=self.clock.now(),
                symbols=self._symbols,
                instruments=self._instruments,
                books=self._books,
                tickers=self._tickers,
                candles=self._candles,
                positions=self.positions.positions,
                open_orders=self.orders.open_orders,
                recent_fills=self._recent_fills,
                strategies=self.strategies.snapshots,
                risk=self.risk.snapshot,
                portfolio=self.portfolio.snapshot,
                connection=self._connection,
                rate_limits=self.exchange.rate_limits,
                alerts=self.alerts.snapshot,
            )
            self._snapshot = snapshot
        return snapshot

    def log_lines_since(self, seq: int, limit: int = 500) -> list[LogLine]:
        if self._log_buffer is None:
            return []
        return [
            LogLine(line.seq, line.ts, line.level, line.source, line.message)
            for line in self._log_buffer.since(seq, limit)
        ]

    def preview_order(self, order: ManualOrder) -> RiskDecision:
        try:
            proposed = _proposed(order)
        except ValueError as exc:
            return RiskDecision.deny("order_size", str(exc))
        context = self._risk_context(proposed)
        if context is None:
            return RiskDecision.deny("unknown_symbol", f"{order.symbol} is not traded here")
        return self.risk.evaluate(proposed, context)

    def preview_amend(
        self, cl_ord_id: str, price: Decimal | None = None, volume: Decimal | None = None
    ) -> RiskDecision:
        judged = self._judged_amend(cl_ord_id, price, volume)
        if isinstance(judged, RiskDecision):
            return judged
        return self.risk.evaluate(*judged)

    # -- EngineApi: commands ---------------------------------------------------------------------

    async def pause(self, strategy: str) -> CommandResult:
        host = self.strategies.host(strategy)
        if host is None:
            return CommandResult(False, f"no strategy named {strategy}")
        if not self.strategies.pause(strategy):
            return CommandResult(False, f"{strategy} is {host.state}, not running")
        self._touch()  # shown at once; the store write below must not delay the feedback
        await self.store.strategies.set_state(strategy, StrategyState.PAUSED, self.clock.now())
        cancelled = 0
        if self.config.cancel_on_pause:
            own = [o.cl_ord_id for o in self.orders.open_orders_of(strategy)]
            cancelled = await self.orders.cancel_many(own)
            self._touch()
        suffix = f", {cancelled} open orders cancelled" if self.config.cancel_on_pause else ""
        return CommandResult(True, f"{strategy} paused: no new orders{suffix}")

    async def resume(self, strategy: str) -> CommandResult:
        host = self.strategies.host(strategy)
        if host is None:
            return CommandResult(False, f"no strategy named {strategy}")
        if self.risk.trading_state is TradingState.HALTED:
            return CommandResult(False, "trading is HALTED: reset the kill switch first")
        if not self.strategies.resume(strategy):
            return CommandResult(False, f"{strategy} is {host.state}, not paused")
        self._touch()
        await self.store.strategies.set_state(strategy, StrategyState.RUNNING, self.clock.now())
        return CommandResult(True, f"{strategy} resumed")

    async def pause_all(self) -> CommandResult:
        results = [await self.pause(h.name) for h in self.strategies.hosts]
        paused = sum(r.ok for r in results)
        return CommandResult(True, f"{paused} strategies paused")

    async def resume_all(self) -> CommandResult:
        if self.risk.trading_state is TradingState.HALTED:
            return CommandResult(False, "trading is HALTED: reset the kill switch first")
        results = [await self.resume(h.name) for h in self.strategies.hosts]
        return CommandResult(True, f"{sum(r.ok for r in results)} strategies resumed")

    async def kill_switch(self, reason: str = "manual") -> CommandResult:
        """HALTED at once (no order passes risk from here on), cancel-all sent, strategies
        paused, the state persisted so a restart stays halted."""
        text = f"kill switch: {reason}"
        self.risk.set_trading_state(TradingState.HALTED, text)
        # Requests that passed risk before this line may still wait in the adapter (rate
        # limiter, connection queue): they are refused there, and CancelAll jumps the queue.
        self.exchange.halt_order_entry(text)
        self._touch()
        persist = self.store.kv.set(
            TRADING_STATE_KEY,
            {"state": TradingState.HALTED.value, "reason": text},
            self.clock.now(),
        )
        cancelled, persisted = await asyncio.gather(
            self.orders.cancel_all(), persist, return_exceptions=True
        )
        if isinstance(persisted, BaseException):
            logger.critical("kill switch: HALTED state not persisted: {}", persisted)
        paused = 0
        for host in self.strategies.hosts:
            if self.strategies.pause(host.name):
                paused += 1
                await self.store.strategies.set_state(
                    host.name, StrategyState.PAUSED, self.clock.now()
                )
        self._touch()
        self._alerted_trading_state = TradingState.HALTED
        if isinstance(cancelled, BaseException):
            logger.critical("kill switch: cancel-all failed: {}", cancelled)
            self.alerts.raise_alert(
                AlertLevel.CRITICAL,
                AlertKind.KILL_SWITCH,
                f"Kill switch fired: {reason}; cancel-all FAILED",
                f"Trading HALTED. Cancel-all failed ({cancelled}): orders may still be open. "
                f"{paused} strategies paused.",
            )
            return CommandResult(
                False, f"HALTED, but cancel-all failed ({cancelled}); {paused} strategies paused"
            )
        logger.critical("kill switch fired ({}): {} orders cancelled", reason, cancelled)
        self.alerts.raise_alert(
            AlertLevel.CRITICAL,
            AlertKind.KILL_SWITCH,
            f"Kill switch fired: {reason}",
            f"Trading HALTED: {cancelled} orders cancelled, {paused} strategies paused. "
            "Reset the kill switch to trade again.",
        )
        return CommandResult(
            True, f"HALTED: cancel-all sent ({cancelled} cancelled), {paused} strategies paused"
        )

    async def reset_kill_switch(self) -> CommandResult:
        if self.risk.trading_state is not TradingState.HALTED:
            return CommandResult(False, f"trading is {self.risk.trading_state}, not HALTED")
        self.risk.set_trading_state(TradingState.ACTIVE, "kill switch reset")
        self._alerted_trading_state = TradingState.ACTIVE
        self.exchange.resume_order_entry()
        await self.store.kv.set(
            TRADING_STATE_KEY, {"state": TradingState.ACTIVE.value, "reason": ""}, self.clock.now()
        )
        self._touch()
        return CommandResult(True, "trading ACTIVE again; strategies stay paused until resumed")

    async def submit_manual_order(self, order: ManualOrder) -> CommandResult:
        if not self.lifecycle.is_live or self._stopping:
            return CommandResult(False, f"the engine is {self.lifecycle.state}: no new orders")
        try:
            proposed = _proposed(order)
        except ValueError as exc:
            return CommandResult(False, f"order refused: {exc}")
        context = self._risk_context(proposed)
        if context is None:
            return CommandResult(False, f"{order.symbol} is not traded here")
        decision = self.risk.check(proposed, context)
        self._touch()
        if not decision.allowed:
            return CommandResult(
                False,
                f"denied by risk ({decision.rule}): {decision.reason}",
                {"rule": decision.rule or ""},
            )
        request = _request(proposed, order.time_in_force, order.post_only)
        placed = await self.orders.place_and_wait(request)
        label = f"{size_text(proposed)} {order.order_type}"
        if placed.is_open or placed.status is OrderStatus.FILLED:
            return CommandResult(
                True,
                f"{label} accepted ({placed.status})",
                {"cl_ord_id": placed.cl_ord_id, "order_id": placed.order_id or ""},
            )
        return CommandResult(
            False, f"{label} {placed.status}: {placed.reason}", {"cl_ord_id": placed.cl_ord_id}
        )

    async def amend_order(
        self, cl_ord_id: str, price: Decimal | None = None, volume: Decimal | None = None
    ) -> CommandResult:
        """Judged like a strategy's amend (the order as it would be, in place of itself), on
        whichever open order is chosen: a strategy's order keeps its strategy's limits."""
        if not self.lifecycle.is_live or self._stopping:
            return CommandResult(False, f"the engine is {self.lifecycle.state}: no amends")
        judged = self._judged_amend(cl_ord_id, price, volume)
        if isinstance(judged, RiskDecision):
            return CommandResult(False, judged.reason, {"rule": judged.rule or ""})
        decision = self.risk.check(*judged)
        self._touch()
        if not decision.allowed:
            return CommandResult(
                False,
                f"denied by risk ({decision.rule}): {decision.reason}",
                {"rule": decision.rule or ""},
            )
        changes = ", ".join(
            f"{name} {value}"
            for name, value in (("price", price), ("volume", volume))
            if value is not None
        )
        self._manual_amend_refusals.pop(cl_ord_id, None)
        if await self.orders.amend(cl_ord_id, volume=volume, price=price):
            return CommandResult(True, f"order {cl_ord_id} amended: {changes}")
        reason = self._manual_amend_refusals.pop(cl_ord_id, None)
        if reason is None:
            order = self.orders.get(cl_ord_id)
            reason = f"it is {order.status if order is not None else 'unknown'}"
        return CommandResult(False, f"order {cl_ord_id} not amended: {reason}")

    def _judged_amend(
        self, cl_ord_id: str, price: Decimal | None, volume: Decimal | None
    ) -> tuple[ProposedOrder, RiskContext] | RiskDecision:
        """What risk judges for an operator's amend, or why there is nothing to judge."""
        order = self.orders.get(cl_ord_id)
        if order is None or not order.is_open:
            return RiskDecision.deny("unknown_order", f"no open order {cl_ord_id}")
        if price is None and volume is None:
            return RiskDecision.deny("amend", "nothing to amend: give a new price or volume")
        if price is not None and order.order_type is not OrderType.LIMIT:
            return RiskDecision.deny(
                "amend", f"a {order.order_type} order has no limit price to amend"
            )
        if volume is not None and order.quote_volume is not None:
            return RiskDecision.deny("amend", "an order sized in quote has no volume to amend")
        if volume is not None and volume <= order.filled:
            return RiskDecision.deny(
                "amend", f"volume {volume} is not above the {order.filled} already filled"
            )
        proposed = _amended(order, price, volume)
        context = self._risk_context(proposed, leaving_out=order.cl_ord_id)
        if context is None:
            return RiskDecision.deny("unknown_symbol", f"{order.symbol} is not traded here")
        return proposed, context

    def _on_amend_refused(self, order: Order, reason: str) -> None:
        if order.strategy is None:
            self._manual_amend_refusals[order.cl_ord_id] = reason
        self.bus.publish(AmendRefused(order, reason))

    async def cancel_order(self, cl_ord_id: str) -> CommandResult:
        if self.orders.get(cl_ord_id) is None:
            return CommandResult(False, f"no order {cl_ord_id} is known")
        if await self.orders.cancel(cl_ord_id):
            return CommandResult(True, f"order {cl_ord_id} cancelled")
        order = self.orders.get(cl_ord_id)
        status = order.status if order is not None else "unknown"
        return CommandResult(False, f"order {cl_ord_id} not cancelled: it is {status}")

    async def cancel_all(self) -> CommandResult:
        try:
            count = await self.orders.cancel_all()
        except ExchangeError as exc:
            return CommandResult(False, f"cancel all failed: {exc.kraken_error or exc}")
        return CommandResult(True, f"cancel all sent: {count} orders cancelled")

    # -- intents ---------------------------------------------------------------------------------

    def _on_intent(self, host: StrategyHost, intent: Intent) -> None:
        match intent:
            case PlaceOrder():
                proposed = ProposedOrder(
                    symbol=host.symbol,
                    side=intent.side,
                    order_type=intent.order_type,
                    volume=intent.volume,
                    price=intent.price,
                    trigger_price=intent.trigger_price,
                    strategy=host.name,
                    quote_volume=intent.quote_volume,
                )
                context = self._risk_context(proposed)
                if context is None or not self.risk.check(proposed, context).allowed:
                    self._touch()
                    return
                request = _request(proposed, intent.tif, intent.post_only)
                self.orders.place(request)
                host.orders_sent += 1
                if intent.tag:
                    logger.info(
                        "{} sends {} {} {} ({})",
                        host.name,
                        size_text(request),
                        request.order_type,
                        request.cl_ord_id[:8],
                        intent.tag,
                    )
            case AmendOrder():
                self._amend(host, intent)
            case CancelOrder(cl_ord_id=cl_ord_id):
                order = self.orders.get(cl_ord_id)
                if order is None or order.strategy != host.name:
                    logger.warning(
                        "{} asked to cancel {}, not one of its orders", host.name, cl_ord_id
                    )
                    return
                self._spawn(self.orders.cancel(cl_ord_id))
            case CancelAll():
                own = [o.cl_ord_id for o in self.orders.open_orders_of(host.name)]
                if own:
                    self._spawn(self.orders.cancel_many(own))

    def _amend(self, host: StrategyHost, intent: AmendOrder) -> None:
        """Risk judges the order as it would be after the amend, with the order itself left
        out of the open orders so it is not counted twice (nor against `max_open_orders`: an
        amend adds no order)."""
        order = self.orders.get(intent.cl_ord_id)
        if order is None or order.strategy != host.name or not order.is_open:
            logger.warning(
                "{} asked to amend {}, not one of its open orders", host.name, intent.cl_ord_id
            )
            return
        proposed = _amended(order, intent.price, intent.volume)
        context = self._risk_context(proposed, leaving_out=order.cl_ord_id)
        if context is None or not self.risk.check(proposed, context).allowed:
            self._touch()
            return
        self._spawn(self.orders.amend(order.cl_ord_id, volume=intent.volume, price=intent.price))

    def _risk_context(
        self, order: ProposedOrder, leaving_out: str | None = None
    ) -> RiskContext | None:
        instrument = self._instruments.get(order.symbol)
        if instrument is None:
            return None
        open_orders = self.orders.open_orders
        if leaving_out is not None:
            open_orders = tuple(o for o in open_orders if o.cl_ord_id != leaving_out)
        return RiskContext(
            instrument=instrument,
            book=self._books.get(order.symbol),
            symbol_position=self.positions.position(order.symbol),
            strategy_position=(
                self.positions.strategy_position(order.symbol, order.strategy)
                if order.strategy is not None
                else None
            ),
            open_orders=open_orders,
        )

    # -- event processing ------------------------------------------------------------------------

    async def _process_events(self) -> None:
        """Handle bus events in slices of at most `slice_s`, yielding between slices."""
        events = self._events
        while True:
            await events.wait()
            if events.closed and not len(events):
                return
            started = time.perf_counter()
            deadline = started + self.config.slice_s
            while (event := events.pop()) is not None:
                await self._handle_safely(event)
                if time.perf_counter() >= deadline:
                    break
            self.max_slice_ms = max(self.max_slice_ms, (time.perf_counter() - started) * 1000)
            await asyncio.sleep(0)

    async def _drain(self) -> None:
        while (event := self._events.pop()) is not None:
            await self._handle_safely(event)

    async def _handle_safely(self, event: object) -> None:
        self.events_handled += 1
        try:
            await self._handle(event)
        except Exception:
            logger.opt(exception=True).error("engine: handling {} failed", type(event).__name__)
        self._snapshot = None

    async def _handle(self, event: object) -> None:
        match event:
            case BookChanged(symbol=symbol):
                book = self.exchange.book(symbol)
                if book is None:
                    return
                self._books = {**self._books, symbol: book}
                self._mark(book)
                for host in self.strategies.hosts_for(symbol):
                    self._refresh_strategy_view(host.name, symbol)
                self.strategies.on_book(book)
            case OrderChanged(order=order):
                self._on_order_changed(order)
            case AmendRefused(order=order, reason=reason):
                self.strategies.on_amend_rejected(order, reason)
            case FillEvent(execution=execution):
                await self._on_fill(execution)
            case OrderEvent(update=update):
                self.orders.on_order_update(update)
            case TradeEvent(trade=trade):
                self.strategies.on_trade(trade)
            case CandleEvent(candle=candle):
                self._on_candle(candle)
            case TickerEvent(ticker=ticker):
                self._tickers = {**self._tickers, ticker.symbol: ticker}
            case BalancesEvent(balances=balances):
                self.portfolio.set_balances(balances)
                self.strategies.update_balances({a: b.available for a, b in balances.items()})
            case ConnectionEvent(status=status):
                self._on_connection(status)
            case _:
                logger.debug("engine ignores {}", type(event).__name__)

    def _mark(self, book: BookSnapshot) -> None:
        if book.mid is not None and not book.stale:
            self.positions.mark(book.symbol, book.mid)

    def _on_order_changed(self, order: Order) -> None:
        if order.strategy is None:
            return
        self._refresh_strategy_view(order.strategy, order.symbol)
        self.strategies.on_order_update(order)

    async def _on_fill(self, execution: Execution) -> None:
        if not await self.orders.on_execution(execution):
            return
        strategy = self.orders.strategy_of(execution)
        await self._apply_fill(execution, strategy)
        self.portfolio.apply_fill(execution)
        self._recent_fills = (execution, *self._recent_fills[: RECENT_FILLS - 1])
        if strategy is not None:
            self._refresh_strategy_view(strategy, execution.symbol)
            self.strategies.on_fill(strategy, execution)

    async def _apply_fill(self, execution: Execution, strategy: str | None) -> None:
        now = self.clock.now()
        for position in self.positions.apply(execution, strategy):
            self.store.positions.queue_upsert(self._portfolio_id, position, now)

    async def _warm_up_strategies(self) -> None:
        """Feed each traded symbol's recent closed candles to its strategies so indicators
        start warm; what they would have done is dropped, since history is no reason to trade
        now. Live candles up to the newest one seen here are then ignored as duplicates."""
        for symbol in sorted({host.symbol for host in self.strategies.hosts}):
            try:
                candles = await self.exchange.recent_candles(symbol)
            except ExchangeError as exc:
                logger.warning("no candle history for {}, strategies start cold: {}", symbol, exc)
                continue
            if not candles:
                continue
            self._candles = {**self._candles, symbol: tuple(candles[-CANDLES_KEPT:])}
            self.strategies.warm_up(symbol, candles)
            logger.info("strategies on {} warmed up with {} candles", symbol, len(candles))

    def _on_candle(self, candle: Candle) -> None:
        history = self._candles.get(candle.symbol, ())
        if candle.closed and any(c.closed and c.ts >= candle.ts for c in history[-2:]):
            return
        if history and not history[-1].closed and history[-1].ts == candle.ts:
            history = history[:-1]
        history = (*history[-(CANDLES_KEPT - 1) :], candle)
        self._candles = {**self._candles, candle.symbol: history}
        if candle.closed:
            self.strategies.on_candle(candle)

    def _on_connection(self, status: ConnectionStatus) -> None:
        self._connection = status
        self._track_connection(status)
        if not self.lifecycle.is_live:
            return
        if status.state is ConnectionState.CONNECTED:
            self.lifecycle.recover("exchange connected")
        else:
            self.lifecycle.degrade(f"exchange {status.state}: {status.reason}")

    def _refresh_strategy_view(self, strategy: str, symbol: str) -> None:
        self.strategies.update_views(
            strategy,
            self.positions.strategy_position(symbol, strategy),
            self.orders.open_orders_of(strategy),
        )

    def _on_lagging(self, subscription: Subscription) -> None:
        self.lifecycle.degrade(f"event queue {subscription.name} is lagging")

    # -- housekeeping ------------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        config = self.config
        equity = Interval(config.equity_snapshot_s)
        state = Interval(config.state_save_s)
        balance = Interval(config.balance_check_s)
        sync = Interval(config.order_sync_s)
        while True:
            await asyncio.sleep(config.housekeeping_s)
            try:
                self.strategies.on_timer()
                await self._revalue()
                self._alert_trading_state()
                self._alert_long_connection_loss()
                self.alerts.flush_repeats()
                if equity.due():
                    self._queue_equity_snapshot()
                if state.due():
                    await self._persist_strategy_states()
                if balance.due():
                    mismatches = await check_balances(
                        self.exchange,
                        self._baseline,
                        self.positions,
                        self.portfolio,
                        self.strategies,
                    )
                    self._alert_confirmed_mismatches(mismatches)
                if sync.due():
                    await self.sync_orders()
                if not self._events.lagging:
                    self.lifecycle.recover("event queue caught up")
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.opt(exception=True).error("engine housekeeping step failed")
            self._snapshot = None

    async def _revalue(self) -> None:
        mids = {s: b.mid for s, b in self._books.items() if b.mid is not None and not b.stale}
        snapshot = self.portfolio.revalue(mids, self.positions.trading_pnl())
        self.strategies.refresh_snapshots(self.positions.strategy_pnl)
        breach = self.risk.update_pnl(snapshot.daily_pnl, snapshot.drawdown_pct)
        if breach is not None and self.risk.trading_state is not TradingState.HALTED:
            await self.kill_switch(f"{breach.rule}: {breach.reason}")

    def _queue_equity_snapshot(self) -> None:
        queue_equity_snapshot(self.portfolio, self.store, self.clock)

    async def _persist_strategy_states(self) -> None:
        await persist_strategy_states(self.strategies, self.store, self.clock)

    async def sync_orders(self) -> tuple[int, int]:
        """Catch up with the exchange on orders and fills the private feed may have missed;
        returns (order updates, fills) re-published for the event loop to apply."""
        updates, fills = await self.order_sync.run_once()
        if updates:
            logger.info("order sync: {} order states caught up", updates)
            self.alerts.raise_alert(
                AlertLevel.WARNING,
                AlertKind.RECONCILIATION,
                f"Order states out of step with the exchange: {updates} caught up",
                f"The private feed missed {updates} order updates and {fills} fills; "
                "order sync brought them in from REST.",
                subject="order_sync",
            )
        return updates, fills

    # -- alerts ------------------------------------------------------------------------------------

    def _alert_trading_state(self) -> None:
        """HALTED or REDUCING set by anyone but the kill switch (which raises its own alert):
        a loss limit, or a HALTED state restored from the previous run."""
        risk = self.risk.snapshot
        state = risk.trading_state
        if state is self._alerted_trading_state:
            return
        self._alerted_trading_state = state
        if state is TradingState.ACTIVE:
            return
        portfolio = self.portfolio.snapshot
        level = AlertLevel.CRITICAL if state is TradingState.HALTED else AlertLevel.WARNING
        self.alerts.raise_alert(
            level,
            AlertKind.TRADING_STATE,
            f"Trading {state.value.upper()}: {risk.reason}",
            f"Daily PnL {portfolio.daily_pnl:.2f} {portfolio.quote_ccy}, drawdown "
            f"{portfolio.drawdown_pct:.2f} %, equity {portfolio.equity:.2f} "
            f"{portfolio.quote_ccy}",
            subject=state.value,
        )

    def _track_connection(self, status: ConnectionStatus) -> None:
        up = status.state in (ConnectionState.CONNECTED, ConnectionState.DEGRADED)
        if not up:
            if self._connection_lost_at is None:
                self._connection_lost_at = time.monotonic()
            return
        lost_at, self._connection_lost_at = self._connection_lost_at, None
        if lost_at is not None and self._connection_loss_alerted:
            self._connection_loss_alerted = False
            self.alerts.raise_alert(
                AlertLevel.WARNING,
                AlertKind.CONNECTION_BACK,
                f"Exchange connection back after {time.monotonic() - lost_at:.0f} s",
                f"{status.state}"
                + (f", latency {status.latency_ms:.0f} ms" if status.latency_ms else ""),
            )

    def _alert_long_connection_loss(self) -> None:
        """Housekeeping: a connection down longer than `connection_lost_after_s`, once."""
        lost_at = self._connection_lost_at
        if lost_at is None or self._connection_loss_alerted or self._connection is None:
            return
        down_s = time.monotonic() - lost_at
        if down_s < self.config.connection_lost_after_s:
            return
        self._connection_loss_alerted = True
        status = self._connection
        self.alerts.raise_alert(
            AlertLevel.ERROR,
            AlertKind.CONNECTION_LOST,
            f"Exchange connection lost for {down_s:.0f} s ({status.state})",
            f"{status.reason or 'no reason given'}; {len(self.orders.open_orders)} orders open",
        )

    def _alert_strategy_error(self, host: StrategyHost) -> None:
        error = (host.error or "unknown error").strip().splitlines()
        self.alerts.raise_alert(
            AlertLevel.ERROR,
            AlertKind.STRATEGY_ERROR,
            f"Strategy {host.name} ({host.symbol}) stopped with an error",
            f"{error[0] if error else ''}; {host.orders_sent} orders sent, "
            f"{len(self.orders.open_orders_of(host.name))} still open",
            subject=host.name,
        )

    def _alert_dead_man(self, error: str, failures_in_a_row: int) -> None:
        timeout = self.dead_man.timeout_s
        self.alerts.raise_alert(
            AlertLevel.ERROR,
            AlertKind.DEAD_MAN_SWITCH,
            f"Dead man's switch refresh failed ({failures_in_a_row} in a row)",
            f"{error}. Kraken cancels every open order {timeout} s after the last good "
            f"refresh; {len(self.orders.open_orders)} orders open.",
        )

    def _alert_confirmed_mismatches(self, mismatches: list[BalanceMismatch]) -> None:
        """A periodic check is confirmed only when the asset also mismatched the check before
        (a fill in flight explains one), as `PortfolioManager.report` rules."""
        assets = frozenset(m.asset for m in mismatches)
        confirmed = [m for m in mismatches if m.asset in self._balance_suspects]
        self._balance_suspects = assets
        if confirmed:
            self._alert_balance_mismatch("while running", confirmed)

    def _alert_balance_mismatch(self, when: str, mismatches: list[BalanceMismatch]) -> None:
        assets = ", ".join(m.asset for m in mismatches)
        self.alerts.raise_alert(
            AlertLevel.CRITICAL,
            AlertKind.RECONCILIATION,
            f"Balance mismatch {when}: {assets}",
            "; ".join(str(m) for m in mismatches),
            subject="balances",
        )

    # -- plumbing ----------------------------------------------------------------------------------

    def _touch(self) -> None:
        self._snapshot = None

    def _spawn(self, work: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _proposed(order: ManualOrder) -> ProposedOrder:
    """Raises ValueError for an order sized in neither base nor quote, or in both (a manual
    order may come from a remote console, so it is checked as a strategy's intent is)."""
    check_size(order.side, order.order_type, order.volume, order.quote_volume)
    return ProposedOrder(
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        volume=order.volume,
        price=order.price,
        trigger_price=order.trigger_price,
        quote_volume=order.quote_volume,
    )


def _amended(order: Order, price: Decimal | None, volume: Decimal | None) -> ProposedOrder:
    """The open order as it would be after the amend, with what it already filled (which the
    position holds, so only the rest can still move it)."""
    return ProposedOrder(
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        volume=order.volume if volume is None else volume,
        price=order.price if price is None else price,
        trigger_price=order.trigger_price,
        strategy=order.strategy,
        quote_volume=order.quote_volume,
        filled=order.filled,
    )


def _request(order: ProposedOrder, tif: TimeInForce, post_only: bool) -> OrderRequest:
    return OrderRequest(
        cl_ord_id=new_cl_ord_id(),
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        volume=order.volume,
        price=order.price,
        trigger_price=order.trigger_price,
        time_in_force=tif,
        post_only=post_only,
        strategy=order.strategy,
        quote_volume=order.quote_volume,
    )
