"""`OperatorCommands`: the `EngineApi` commands an operator gives from the UI, headless control
or a remote console (pause and resume, the kill switch, manual orders, amends and cancels),
and the previews that tell the order ticket what risk would say.

Every order or amend passes the same risk checks as a strategy's (see `proposals`). The
commands write the store and raise alerts themselves, and call `touch` when the engine's
snapshot must show the change at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from loguru import logger

from kraken_tui.clock import Clock
from kraken_tui.domain import Order, OrderStatus, OrderType, StrategyState, TradingState
from kraken_tui.engine.alert_rules import AlertRules
from kraken_tui.engine.api import CommandResult, ManualOrder, RiskDecision
from kraken_tui.engine.lifecycle import Lifecycle
from kraken_tui.engine.order_manager import OrderManager
from kraken_tui.engine.order_text import size_text
from kraken_tui.engine.proposals import (
    amended_proposal,
    manual_proposal,
    order_request,
    risk_context,
)
from kraken_tui.engine.risk import ProposedOrder, RiskContext, RiskManager
from kraken_tui.engine.startup import TRADING_STATE_KEY
from kraken_tui.engine.state import EngineState
from kraken_tui.engine.strategy_manager import StrategyManager
from kraken_tui.exchange.protocol import Exchange, ExchangeError
from kraken_tui.store import Store


class OperatorCommands:
    def __init__(
        self,
        *,
        exchange: Exchange,
        store: Store,
        clock: Clock,
        state: EngineState,
        orders: OrderManager,
        risk: RiskManager,
        strategies: StrategyManager,
        alert_rules: AlertRules,
        lifecycle: Lifecycle,
        cancel_on_pause: bool,
        stopping: Callable[[], bool],
        touch: Callable[[], None],
    ) -> None:
        self._exchange = exchange
        self._store = store
        self._clock = clock
        self._state = state
        self._orders = orders
        self._risk = risk
        self._strategies = strategies
        self._alert_rules = alert_rules
        self._lifecycle = lifecycle
        self._cancel_on_pause = cancel_on_pause
        self._stopping = stopping
        self._touch = touch
        self._manual_amend_refusals: dict[str, str] = {}
        """The exchange's reason for refusing an operator's amend, kept until `amend_order`
        reports it (a strategy hears of its own refusals through the bus)."""

    # -- previews --------------------------------------------------------------------------------

    def preview_order(self, order: ManualOrder) -> RiskDecision:
        try:
            proposed = manual_proposal(order)
        except ValueError as exc:
            return RiskDecision.deny("order_size", str(exc))
        context = risk_context(self._state, self._orders, proposed)
        if context is None:
            return RiskDecision.deny("unknown_symbol", f"{order.symbol} is not traded here")
        return self._risk.evaluate(proposed, context)

    def preview_amend(
        self, cl_ord_id: str, price: Decimal | None = None, volume: Decimal | None = None
    ) -> RiskDecision:
        judged = self._judged_amend(cl_ord_id, price, volume)
        if isinstance(judged, RiskDecision):
            return judged
        return self._risk.evaluate(*judged)

    # -- strategies and the kill switch ----------------------------------------------------------

    async def pause(self, strategy: str) -> CommandResult:
        host = self._strategies.host(strategy)
        if host is None:
            return CommandResult(False, f"no strategy named {strategy}")
        if not self._strategies.pause(strategy):
            return CommandResult(False, f"{strategy} is {host.state}, not running")
        self._touch()  # shown at once; the store write below must not delay the feedback
        await self._store.strategies.set_state(strategy, StrategyState.PAUSED, self._clock.now())
        cancelled = 0
        if self._cancel_on_pause:
            own = [o.cl_ord_id for o in self._orders.open_orders_of(strategy)]
            cancelled = await self._orders.cancel_many(own)
            self._touch()
        suffix = f", {cancelled} open orders cancelled" if self._cancel_on_pause else ""
        return CommandResult(True, f"{strategy} paused: no new orders{suffix}")

    async def resume(self, strategy: str) -> CommandResult:
        host = self._strategies.host(strategy)
        if host is None:
            return CommandResult(False, f"no strategy named {strategy}")
        if self._risk.trading_state is TradingState.HALTED:
            return CommandResult(False, "trading is HALTED: reset the kill switch first")
        if not self._strategies.resume(strategy):
            return CommandResult(False, f"{strategy} is {host.state}, not paused")
        self._touch()
        await self._store.strategies.set_state(strategy, StrategyState.RUNNING, self._clock.now())
        return CommandResult(True, f"{strategy} resumed")

    async def pause_all(self) -> CommandResult:
        results = [await self.pause(h.name) for h in self._strategies.hosts]
        paused = sum(r.ok for r in results)
        return CommandResult(True, f"{paused} strategies paused")

    async def resume_all(self) -> CommandResult:
        if self._risk.trading_state is TradingState.HALTED:
            return CommandResult(False, "trading is HALTED: reset the kill switch first")
        results = [await self.resume(h.name) for h in self._strategies.hosts]
        return CommandResult(True, f"{sum(r.ok for r in results)} strategies resumed")

    async def kill_switch(self, reason: str = "manual") -> CommandResult:
        """HALTED at once (no order passes risk from here on), cancel-all sent, strategies
        paused, the state persisted so a restart stays halted."""
        text = f"kill switch: {reason}"
        self._risk.set_trading_state(TradingState.HALTED, text)
        # Requests that passed risk before this line may still wait in the adapter (rate
        # limiter, connection queue): they are refused there, and CancelAll jumps the queue.
        self._exchange.halt_order_entry(text)
        self._touch()
        persist = self._store.kv.set(
            TRADING_STATE_KEY,
            {"state": TradingState.HALTED.value, "reason": text},
            self._clock.now(),
        )
        cancelled, persisted = await asyncio.gather(
            self._orders.cancel_all(), persist, return_exceptions=True
        )
        if isinstance(persisted, BaseException):
            logger.critical("kill switch: HALTED state not persisted: {}", persisted)
        paused = 0
        for host in self._strategies.hosts:
            if self._strategies.pause(host.name):
                paused += 1
                await self._store.strategies.set_state(
                    host.name, StrategyState.PAUSED, self._clock.now()
                )
        self._touch()
        self._alert_rules.trading_state_set_by_operator(TradingState.HALTED)
        if isinstance(cancelled, BaseException):
            logger.critical("kill switch: cancel-all failed: {}", cancelled)
            self._alert_rules.kill_switch_cancel_failed(reason, cancelled, paused)
            return CommandResult(
                False, f"HALTED, but cancel-all failed ({cancelled}); {paused} strategies paused"
            )
        logger.critical("kill switch fired ({}): {} orders cancelled", reason, cancelled)
        self._alert_rules.kill_switch_fired(reason, cancelled, paused)
        return CommandResult(
            True, f"HALTED: cancel-all sent ({cancelled} cancelled), {paused} strategies paused"
        )

    async def reset_kill_switch(self) -> CommandResult:
        if self._risk.trading_state is not TradingState.HALTED:
            return CommandResult(False, f"trading is {self._risk.trading_state}, not HALTED")
        self._risk.set_trading_state(TradingState.ACTIVE, "kill switch reset")
        self._alert_rules.trading_state_set_by_operator(TradingState.ACTIVE)
        self._exchange.resume_order_entry()
        await self._store.kv.set(
            TRADING_STATE_KEY,
            {"state": TradingState.ACTIVE.value, "reason": ""},
            self._clock.now(),
        )
        self._touch()
        return CommandResult(True, "trading ACTIVE again; strategies stay paused until resumed")

    # -- orders ----------------------------------------------------------------------------------

    async def submit_manual_order(self, order: ManualOrder) -> CommandResult:
        if not self._lifecycle.is_live or self._stopping():
            return CommandResult(False, f"the engine is {self._lifecycle.state}: no new orders")
        try:
            proposed = manual_proposal(order)
        except ValueError as exc:
            return CommandResult(False, f"order refused: {exc}")
        context = risk_context(self._state, self._orders, proposed)
        if context is None:
            return CommandResult(False, f"{order.symbol} is not traded here")
        decision = self._risk.check(proposed, context)
        self._touch()
        if not decision.allowed:
            return CommandResult(
                False,
                f"denied by risk ({decision.rule}): {decision.reason}",
                {"rule": decision.rule or ""},
            )
        request = order_request(proposed, order.time_in_force, order.post_only)
        placed = await self._orders.place_and_wait(request)
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
        if not self._lifecycle.is_live or self._stopping():
            return CommandResult(False, f"the engine is {self._lifecycle.state}: no amends")
        judged = self._judged_amend(cl_ord_id, price, volume)
        if isinstance(judged, RiskDecision):
            return CommandResult(False, judged.reason, {"rule": judged.rule or ""})
        decision = self._risk.check(*judged)
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
        if await self._orders.amend(cl_ord_id, volume=volume, price=price):
            return CommandResult(True, f"order {cl_ord_id} amended: {changes}")
        reason = self._manual_amend_refusals.pop(cl_ord_id, None)
        if reason is None:
            order = self._orders.get(cl_ord_id)
            reason = f"it is {order.status if order is not None else 'unknown'}"
        return CommandResult(False, f"order {cl_ord_id} not amended: {reason}")

    def note_amend_refused(self, order: Order, reason: str) -> None:
        """Keeps the exchange's reason for an operator's order, for `amend_order` to report."""
        if order.strategy is None:
            self._manual_amend_refusals[order.cl_ord_id] = reason

    def _judged_amend(
        self, cl_ord_id: str, price: Decimal | None, volume: Decimal | None
    ) -> tuple[ProposedOrder, RiskContext] | RiskDecision:
        """What risk judges for an operator's amend, or why there is nothing to judge."""
        order = self._orders.get(cl_ord_id)
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
        proposed = amended_proposal(order, price, volume)
        context = risk_context(self._state, self._orders, proposed, leaving_out=order.cl_ord_id)
        if context is None:
            return RiskDecision.deny("unknown_symbol", f"{order.symbol} is not traded here")
        return proposed, context

    async def cancel_order(self, cl_ord_id: str) -> CommandResult:
        if self._orders.get(cl_ord_id) is None:
            return CommandResult(False, f"no order {cl_ord_id} is known")
        if await self._orders.cancel(cl_ord_id):
            return CommandResult(True, f"order {cl_ord_id} cancelled")
        order = self._orders.get(cl_ord_id)
        status = order.status if order is not None else "unknown"
        return CommandResult(False, f"order {cl_ord_id} not cancelled: it is {status}")

    async def cancel_all(self) -> CommandResult:
        try:
            count = await self._orders.cancel_all()
        except ExchangeError as exc:
            return CommandResult(False, f"cancel all failed: {exc.kraken_error or exc}")
        return CommandResult(True, f"cancel all sent: {count} orders cancelled")
