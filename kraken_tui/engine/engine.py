"""TradingEngine: wires exchange, bus, strategies, risk, orders, positions, portfolio and store,
and implements `EngineApi` for the UI, headless mode and remote control.

Shape of a run::

    engine = TradingEngine(exchange, store, EngineConfig.from_settings(settings))
    await engine.start()             # connect, reconcile, rebuild, load strategies, trade
    ...                              # snapshot() / commands from the UI or ctl
    await engine.stop(cancel_open_orders=True)

or `await engine.run(stop_event, duration_s)` for headless mode. The store is the caller's:
the engine neither opens nor closes it.

What stays here is the wiring, the lifecycle (start, stop) and the loops that pace the work:
the event loop and housekeeping. The work itself lives beside it: start-up steps in
`startup`, periodic jobs in `housekeeping`, what each event changes in `event_handlers`,
strategy intents in `strategy_intents`, operator commands in `operator_commands`, alerts in
`alert_rules`. They share one `EngineState`, so none holds a copy that could go stale.

Loop discipline (see docs/design ui-load-probe): events are handled in slices of at most
`slice_s` (2 ms) and the loop yields between slices, so a UI sharing the loop stays responsive;
snapshot parts are immutable values replaced on change, so `snapshot()` is O(1).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from decimal import Decimal

from loguru import logger

from kraken_tui.alerts.board import AlertBoard
from kraken_tui.clock import Clock, WallClock
from kraken_tui.domain import ComponentState, Order, OrderStatus, TradingState
from kraken_tui.engine.alert_rules import AlertRules
from kraken_tui.engine.api import (
    CommandResult,
    EngineSnapshot,
    LogLine,
    ManualOrder,
    RiskDecision,
)
from kraken_tui.engine.bus import EventBus, Subscription
from kraken_tui.engine.config import EngineConfig
from kraken_tui.engine.dead_man import DeadManSwitch
from kraken_tui.engine.event_handlers import EventHandlers
from kraken_tui.engine.events import AmendRefused, OrderChanged
from kraken_tui.engine.housekeeping import (
    Interval,
    check_balances,
    persist_strategy_states,
    queue_equity_snapshot,
)
from kraken_tui.engine.lifecycle import Lifecycle
from kraken_tui.engine.operator_commands import OperatorCommands
from kraken_tui.engine.order_manager import OrderManager
from kraken_tui.engine.order_sync import OrderSync
from kraken_tui.engine.portfolio import PortfolioManager
from kraken_tui.engine.positions import PositionManager
from kraken_tui.engine.reconciliation import Reconciler
from kraken_tui.engine.risk import RiskManager
from kraken_tui.engine.startup import (
    check_balances_at_start,
    load_strategies,
    rebuild_positions,
    restore_trading_state,
)
from kraken_tui.engine.state import EngineState
from kraken_tui.engine.strategy_intents import StrategyIntents
from kraken_tui.engine.strategy_manager import StrategyManager
from kraken_tui.exchange.protocol import Exchange, ExchangeError
from kraken_tui.logging import LogBuffer
from kraken_tui.store import Store

__all__ = ["EngineConfig", "TradingEngine"]


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
        self._state = EngineState(
            positions=PositionManager({}),
            portfolio=PortfolioManager(config.quote_ccy, {}, self.clock),
        )
        self.order_sync = OrderSync(exchange, self.orders, self.bus.publish, self.clock)
        self.alerts = AlertBoard(self.clock, config.alert_repeat_s)
        self._alert_rules = AlertRules(
            self.alerts,
            self._state,
            self.risk,
            self.orders,
            dead_man_timeout_s=config.dead_man_timeout_s,
            connection_lost_after_s=config.connection_lost_after_s,
        )
        self.alerts.on_change(self._touch)
        self.strategies.on_error(self._alert_rules.strategy_error)
        self.dead_man = DeadManSwitch(
            exchange,
            config.dead_man_timeout_s,
            lambda: bool(self.orders.open_orders),
            on_refresh_failed=self._alert_rules.dead_man_refresh_failed,
        )
        self._commands = OperatorCommands(
            exchange=exchange,
            store=store,
            clock=self.clock,
            state=self._state,
            orders=self.orders,
            risk=self.risk,
            strategies=self.strategies,
            alert_rules=self._alert_rules,
            lifecycle=self.lifecycle,
            cancel_on_pause=config.cancel_on_pause,
            stopping=lambda: self._stopping,
            touch=self._touch,
        )
        self._intents = StrategyIntents(
            self._state, self.orders, self.risk, spawn=self._spawn, touch=self._touch
        )
        self._handlers = EventHandlers(
            exchange=exchange,
            store=store,
            clock=self.clock,
            state=self._state,
            orders=self.orders,
            strategies=self.strategies,
            lifecycle=self.lifecycle,
            alert_rules=self._alert_rules,
        )
        self._log_buffer = log_buffer
        self._events: Subscription = self.bus.subscribe(
            "engine", capacity=config.bus_capacity, on_lagging=self._on_lagging
        )
        self._baseline: dict[str, Decimal] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[object]] = set()
        self._stopping = False
        self._snapshot: EngineSnapshot | None = None
        self.events_handled = 0
        self.max_slice_ms = 0.0
        self.orders.on_change(lambda order: self.bus.publish(OrderChanged(order)))
        self.orders.on_amend_refused(self._on_amend_refused)
        self.lifecycle.on_change(lambda _: self._touch())

    @property
    def positions(self) -> PositionManager:
        return self._state.positions

    @property
    def portfolio(self) -> PortfolioManager:
        return self._state.portfolio

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
        state = self._state
        self.exchange.set_event_handler(self.bus.publish)
        await self.exchange.connect()
        state.connection = self.exchange.connection
        state.instruments = dict(self.exchange.instruments)
        unknown = [s for s in self.config.symbols if s not in state.instruments]
        if unknown:
            raise ExchangeError(f"the exchange does not list {', '.join(unknown)}")
        state.symbols = self.config.symbols
        state.positions = PositionManager(state.instruments)
        state.portfolio = PortfolioManager(
            self.config.quote_ccy, state.instruments, self.clock, valued_symbols=state.symbols
        )
        await restore_trading_state(self.store, self.risk, self.exchange)
        report = await Reconciler(self.exchange, self.store, self.orders, self.clock).run()
        if report.unresolved:
            self._alert_rules.reconciliation_at_start(report.unresolved, report.summary())
        await rebuild_positions(self.store, self.orders, state.positions)
        state.portfolio_id = await self.store.positions.ensure_portfolio(
            "default", self.config.quote_ccy, now
        )
        for position in state.positions.positions:
            self.store.positions.queue_upsert(state.portfolio_id, position, now)
        balances, self._baseline, mismatches = await check_balances_at_start(
            self.exchange, self.store, state.positions, state.portfolio, now
        )
        if mismatches:
            self._alert_rules.balance_mismatch("at start", mismatches)
        await load_strategies(
            self.store, self.strategies, self.config.strategies, state.instruments, now
        )
        for host in self.strategies.hosts:
            self._handlers.refresh_strategy_view(host.name, host.symbol)
        self.strategies.update_balances({a: b.available for a, b in balances.items()})
        await self.exchange.subscribe_market(state.symbols, self.config.book_depth)
        for symbol in state.symbols:
            book = self.exchange.book(symbol)
            if book is not None:
                state.books = {**state.books, symbol: book}
                self._handlers.mark(book)
        if self.risk.trading_state is TradingState.HALTED:
            for host in self.strategies.hosts:
                self.strategies.pause(host.name)
        await self._revalue()
        self._alert_rules.trading_state()
        self.strategies.set_sink(self._intents.handle)
        self.strategies.start()
        await self._handlers.warm_up_strategies()
        logger.info(
            "engine started in {} mode: {} symbols, {} strategies, {}",
            self.config.mode,
            len(state.symbols),
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
            state = self._state
            snapshot = EngineSnapshot(
                mode=self.config.mode,
                live_host_override=self.config.live_host_override,
                state=self.lifecycle.state,
                ts=self.clock.now(),
                symbols=state.symbols,
                instruments=state.instruments,
                books=state.books,
                tickers=state.tickers,
                candles=state.candles,
                positions=state.positions.positions,
                open_orders=self.orders.open_orders,
                recent_fills=state.recent_fills,
                strategies=self.strategies.snapshots,
                risk=self.risk.snapshot,
                portfolio=state.portfolio.snapshot,
                connection=state.connection,
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
        return self._commands.preview_order(order)

    def preview_amend(
        self, cl_ord_id: str, price: Decimal | None = None, volume: Decimal | None = None
    ) -> RiskDecision:
        return self._commands.preview_amend(cl_ord_id, price, volume)

    # -- EngineApi: commands (see `OperatorCommands`) --------------------------------------------

    async def pause(self, strategy: str) -> CommandResult:
        return await self._commands.pause(strategy)

    async def resume(self, strategy: str) -> CommandResult:
        return await self._commands.resume(strategy)

    async def pause_all(self) -> CommandResult:
        return await self._commands.pause_all()

    async def resume_all(self) -> CommandResult:
        return await self._commands.resume_all()

    async def kill_switch(self, reason: str = "manual") -> CommandResult:
        return await self._commands.kill_switch(reason)

    async def reset_kill_switch(self) -> CommandResult:
        return await self._commands.reset_kill_switch()

    async def submit_manual_order(self, order: ManualOrder) -> CommandResult:
        return await self._commands.submit_manual_order(order)

    async def amend_order(
        self, cl_ord_id: str, price: Decimal | None = None, volume: Decimal | None = None
    ) -> CommandResult:
        return await self._commands.amend_order(cl_ord_id, price, volume)

    async def cancel_order(self, cl_ord_id: str) -> CommandResult:
        return await self._commands.cancel_order(cl_ord_id)

    async def cancel_all(self) -> CommandResult:
        return await self._commands.cancel_all()

    def _on_amend_refused(self, order: Order, reason: str) -> None:
        self._commands.note_amend_refused(order, reason)
        self.bus.publish(AmendRefused(order, reason))

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
            await self._handlers.handle(event)
        except Exception:
            logger.opt(exception=True).error("engine: handling {} failed", type(event).__name__)
        self._snapshot = None

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
                self._alert_rules.trading_state()
                self._alert_rules.long_connection_loss()
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
                    self._alert_rules.confirmed_mismatches(mismatches)
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
        books = self._state.books
        mids = {s: b.mid for s, b in books.items() if b.mid is not None and not b.stale}
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
            self._alert_rules.order_states_caught_up(updates, fills)
        return updates, fills

    # -- plumbing ----------------------------------------------------------------------------------

    def _touch(self) -> None:
        self._snapshot = None

    def _spawn(self, work: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
