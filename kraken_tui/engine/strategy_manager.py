"""Runs the configured strategies, each isolated from the others.

Isolation rules:
- An exception in a handler puts only that strategy in `error`: the traceback is logged and
  kept in its snapshot, it receives nothing more, and its pending intents are dropped. So does
  an intent the engine fails on (a malformed `PlaceOrder` already fails in the handler that
  builds it; one whose numbers the risk check cannot compute fails here): the strategies after
  it still get the event.
- A handler call that takes longer than the budget (wall time, `time.perf_counter`) is reported
  with a warning and counted. Python cannot pre-empt it, so the budget is a detector, not a
  guard; the count in the snapshot tells the operator which strategy starves the loop.
- A paused strategy keeps receiving market data (its indicators stay warm, so `resume`
  continues from a current state) but its new-order and amend intents are dropped; cancels
  still pass.
- A strategy gets no `on_book` while its book is stale; intents it produces then are refused
  by the risk manager's `stale_book` rule.

Intents leave through the `IntentSink` the engine installs, one by one, in the order the
strategy returned them.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from kraken_tui.clock import Clock
from kraken_tui.domain import (
    BookSnapshot,
    Candle,
    Execution,
    Instrument,
    Order,
    Position,
    StrategyState,
    Trade,
)
from kraken_tui.engine.api import StrategySnapshot
from kraken_tui.engine.strategy_loader import (
    StrategyLoadError,
    resolve_strategy_class,
)
from kraken_tui.settings import StrategyConfig
from kraken_tui.strategies import (
    AmendOrder,
    BaseStrategy,
    CancelAll,
    CancelOrder,
    Intent,
    PlaceOrder,
    StrategyConfigError,
    StrategyContext,
    as_intents,
)

DEFAULT_CALL_BUDGET_S = 0.005


@dataclass(slots=True)
class StrategyHost:
    """One configured strategy and its bookkeeping. `strategy` is None when it failed to load."""

    name: str
    symbol: str
    class_name: str
    state: StrategyState
    strategy: BaseStrategy | None
    context: StrategyContext | None
    error: str | None = None
    orders_sent: int = 0
    slow_calls: int = 0
    max_call_ms: float = 0.0
    dropped_while_paused: int = 0
    last_timer: float = 0.0
    saved_state: str = ""
    snapshot: StrategySnapshot = field(init=False)

    def __post_init__(self) -> None:
        self.snapshot = StrategySnapshot(self.name, self.symbol, self.class_name, self.state)

    @property
    def receives_events(self) -> bool:
        return self.strategy is not None and self.state in (
            StrategyState.RUNNING,
            StrategyState.PAUSED,
        )


IntentSink = Callable[[StrategyHost, Intent], None]
ErrorListener = Callable[[StrategyHost], None]
"""Told of a strategy that went to `error` (failed to load, raised, or sent a bad intent)."""


@dataclass(frozen=True, slots=True)
class SavedStrategy:
    """What the store remembers of a strategy between runs."""

    state: StrategyState
    state_json: Mapping[str, Any] | None


class StrategyManager:
    def __init__(
        self,
        clock: Clock,
        *,
        call_budget_s: float = DEFAULT_CALL_BUDGET_S,
        strategy_dir: Path | None = None,
    ) -> None:
        self._clock = clock
        self._budget_s = call_budget_s
        self._strategy_dir = strategy_dir or Path("strategies")
        self._hosts: dict[str, StrategyHost] = {}
        self._by_symbol: dict[str, list[StrategyHost]] = {}
        self._sink: IntentSink | None = None
        self._error_listeners: list[ErrorListener] = []
        self._snapshots: tuple[StrategySnapshot, ...] = ()

    # -- set-up --------------------------------------------------------------------------------

    def set_sink(self, sink: IntentSink) -> None:
        self._sink = sink

    def on_error(self, listener: ErrorListener) -> None:
        self._error_listeners.append(listener)

    def load(
        self,
        configs: Sequence[StrategyConfig],
        instruments: Mapping[str, Instrument],
        saved: Mapping[str, SavedStrategy] | None = None,
    ) -> None:
        """Build every configured strategy. A strategy that cannot be built is kept as an
        `error` entry (so the UI lists it with its reason) and the others load normally."""
        saved = saved or {}
        for config in configs:
            host = self._build(config, instruments, saved.get(config.name))
            if host.state is StrategyState.ERROR:
                self._tell_error(host)
            self._hosts[host.name] = host
            self._by_symbol.setdefault(host.symbol, []).append(host)
        self._publish()

    def _build(
        self,
        config: StrategyConfig,
        instruments: Mapping[str, Instrument],
        saved: SavedStrategy | None,
    ) -> StrategyHost:
        def failed(reason: str) -> StrategyHost:
            logger.error("strategy {} not loaded: {}", config.name, reason)
            return StrategyHost(
                config.name,
                config.symbol,
                config.class_name,
                StrategyState.ERROR,
                None,
                None,
                error=reason,
            )

        instrument = instruments.get(config.symbol)
        if instrument is None:
            return failed(f"unknown symbol {config.symbol}")
        try:
            cls = resolve_strategy_class(config.class_name, self._strategy_dir)
            context = StrategyContext(instrument=instrument, clock=self._clock)
            strategy = cls.from_config(config.name, config.symbol, config.params, context)
            if saved is not None and saved.state_json is not None:
                strategy.restore_state(json.dumps(saved.state_json))
        except (StrategyLoadError, StrategyConfigError) as exc:
            return failed(str(exc))
        except Exception as exc:
            return failed(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        if not config.enabled:
            state = StrategyState.STOPPED
        elif saved is not None and saved.state is StrategyState.PAUSED:
            state = StrategyState.PAUSED
        else:
            state = StrategyState.RUNNING
        host = StrategyHost(config.name, config.symbol, config.class_name, state, strategy, context)
        host.saved_state = strategy.dump_state() if saved is not None else ""
        return host

    # -- queries -------------------------------------------------------------------------------

    @property
    def hosts(self) -> tuple[StrategyHost, ...]:
        return tuple(self._hosts.values())

    @property
    def snapshots(self) -> tuple[StrategySnapshot, ...]:
        return self._snapshots

    def host(self, name: str) -> StrategyHost | None:
        return self._hosts.get(name)

    def hosts_for(self, symbol: str) -> Sequence[StrategyHost]:
        return self._by_symbol.get(symbol, ())

    # -- lifecycle of the strategies -------------------------------------------------------------

    def start(self) -> None:
        """`on_start` for every live strategy; timers first fire one interval later."""
        for host in self._hosts.values():
            host.last_timer = self._clock.monotonic()
            if host.receives_events:
                self._call(host, "on_start")
        self._publish()

    def stop(self, *, leave_orders: bool = False) -> None:
        """`on_stop` for every live strategy; its intents are still honoured (e.g. cancels),
        except that with `leave_orders` (the operator's `cancel_on_shutdown = false`) its
        cancels are dropped: the operator's choice to leave orders working overrides any
        strategy's own cleanup, user strategies included."""
        for host in self._hosts.values():
            if host.receives_events:
                self._call(host, "on_stop", keep_orders=leave_orders)
                host.state = StrategyState.STOPPED
        self._publish()

    def pause(self, name: str) -> bool:
        host = self._hosts.get(name)
        if host is None or host.state is not StrategyState.RUNNING:
            return False
        host.state = StrategyState.PAUSED
        logger.info("strategy {} paused", name)
        self._publish()
        return True

    def resume(self, name: str) -> bool:
        host = self._hosts.get(name)
        if host is None or host.state is not StrategyState.PAUSED:
            return False
        host.state = StrategyState.RUNNING
        logger.info("strategy {} resumed", name)
        self._publish()
        return True

    # -- event dispatch ----------------------------------------------------------------------------

    def on_book(self, book: BookSnapshot) -> None:
        for host in self.hosts_for(book.symbol):
            if host.context is not None:
                host.context.book = book
            if host.receives_events and not book.stale:
                self._call(host, "on_book", book)

    def warm_up(self, symbol: str, candles: Sequence[Candle]) -> None:
        """Replay closed candles into the strategies of `symbol`, dropping their intents."""
        for host in self.hosts_for(symbol):
            if host.receives_events:
                for candle in candles:
                    self._call(host, "on_candle", candle, emit=False)

    def on_trade(self, trade: Trade) -> None:
        for host in self.hosts_for(trade.symbol):
            if host.receives_events:
                self._call(host, "on_trade", trade)

    def on_candle(self, candle: Candle) -> None:
        for host in self.hosts_for(candle.symbol):
            if host.receives_events:
                self._call(host, "on_candle", candle)

    def on_fill(self, strategy: str, execution: Execution) -> None:
        host = self._hosts.get(strategy)
        if host is not None and host.receives_events:
            self._call(host, "on_fill", execution)

    def on_order_update(self, order: Order) -> None:
        host = self._hosts.get(order.strategy) if order.strategy else None
        if host is not None and host.receives_events:
            self._call(host, "on_order_update", order)

    def on_amend_rejected(self, order: Order, reason: str) -> None:
        host = self._hosts.get(order.strategy) if order.strategy else None
        if host is not None and host.receives_events:
            self._call(host, "on_amend_rejected", order, reason)

    def on_timer(self) -> None:
        """Call `on_timer` on every strategy whose interval has elapsed."""
        monotonic = self._clock.monotonic()
        for host in self._hosts.values():
            strategy = host.strategy
            if strategy is None or not host.receives_events or not strategy.timer_interval_s:
                continue
            if monotonic - host.last_timer >= strategy.timer_interval_s:
                host.last_timer = monotonic
                self._call(host, "on_timer", self._clock.now())

    def update_views(
        self,
        name: str,
        position: Position,
        open_orders: tuple[Order, ...],
    ) -> None:
        """Refresh what a strategy reads (called by the engine when its orders or fills move)."""
        host = self._hosts.get(name)
        if host is not None and host.context is not None:
            host.context.position = position
            host.context.open_orders = open_orders

    def update_balances(self, available: Mapping[str, Decimal]) -> None:
        """Refresh each strategy's free quote balance (account-wide, by asset name)."""
        for host in self._hosts.values():
            if host.context is not None:
                host.context.available_quote = available.get(host.context.instrument.quote)

    def refresh_snapshots(self, pnl: Callable[[str], Decimal]) -> None:
        self._publish(pnl)

    def dirty_states(self) -> list[tuple[str, dict[str, Any]]]:
        """Strategies whose `state` changed since the last call, with a copy to persist."""
        dirty = []
        for host in self._hosts.values():
            if host.strategy is None:
                continue
            try:
                text = host.strategy.dump_state()
            except TypeError as exc:
                self._fail(host, str(exc))
                continue
            if text != host.saved_state:
                host.saved_state = text
                dirty.append((host.name, json.loads(text)))
        return dirty

    # -- isolation -------------------------------------------------------------------------------

    def _call(
        self,
        host: StrategyHost,
        handler: str,
        *args: object,
        emit: bool = True,
        keep_orders: bool = False,
    ) -> None:
        strategy = host.strategy
        if strategy is None:
            return
        started = time.perf_counter()
        try:
            result = getattr(strategy, handler)(*args)
            intents = as_intents(result)
        except Exception as exc:
            self._fail(host, f"{handler}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            return
        finally:
            self._measure(host, handler, time.perf_counter() - started)
        if host.snapshot.last_signal != strategy.signal:
            self._publish()
        if not emit:
            return
        for intent in intents:
            if host.state is not StrategyState.RUNNING and isinstance(
                intent, PlaceOrder | AmendOrder
            ):
                host.dropped_while_paused += 1
                logger.debug("strategy {} is {}: dropped {}", host.name, host.state, intent)
                continue
            if keep_orders and isinstance(intent, CancelOrder | CancelAll):
                logger.info(
                    "strategy {} {}: {} not sent: cancel_on_shutdown is false, orders stay open",
                    host.name,
                    handler,
                    intent,
                )
                continue
            if self._sink is None:
                continue
            try:
                self._sink(host, intent)
            except Exception as exc:
                self._fail(
                    host,
                    f"{handler} returned {intent!r}, which the engine could not handle: "
                    f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
                )
                return

    def _measure(self, host: StrategyHost, handler: str, elapsed: float) -> None:
        host.max_call_ms = max(host.max_call_ms, elapsed * 1000)
        if elapsed > self._budget_s:
            host.slow_calls += 1
            logger.warning(
                "strategy {} blocked the loop for {:.1f} ms in {} "
                "(budget {:.1f} ms, {} slow calls)",
                host.name,
                elapsed * 1000,
                handler,
                self._budget_s * 1000,
                host.slow_calls,
            )

    def _fail(self, host: StrategyHost, error: str) -> None:
        host.state = StrategyState.ERROR
        host.error = error
        logger.error("strategy {} stopped with an error: {}", host.name, error)
        self._publish()
        self._tell_error(host)

    def _tell_error(self, host: StrategyHost) -> None:
        for listener in self._error_listeners:
            listener(host)

    def _publish(self, pnl: Callable[[str], Decimal] | None = None) -> None:
        snapshots = []
        for host in self._hosts.values():
            previous = host.snapshot
            position = host.context.position.qty if host.context is not None else Decimal(0)
            current = StrategySnapshot(
                name=host.name,
                symbol=host.symbol,
                class_name=host.class_name,
                state=host.state,
                last_signal=host.strategy.signal if host.strategy is not None else "",
                position=position,
                pnl=pnl(host.name) if pnl is not None else previous.pnl,
                orders_sent=host.orders_sent,
                error=host.error,
            )
            if current != previous:
                host.snapshot = current
            snapshots.append(host.snapshot)
        fresh = tuple(snapshots)
        if fresh != self._snapshots:
            self._snapshots = fresh
