import asyncio
import time
from dataclasses import replace
from decimal import Decimal

import pytest
from engine_fixtures import (
    API_KEY,
    config,
    eventually,
    make_exchange,
    open_store,
    started,
    strategy,
    venue_open_orders,
)
from loguru import logger
from pydantic import BaseModel
from simulated_exchange import SimulatedExchange

from kraken_tui.domain import (
    BookSnapshot,
    ComponentState,
    ConnectionState,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StrategyState,
    Trade,
    TradingState,
)
from kraken_tui.engine.api import ManualOrder
from kraken_tui.engine.engine import TradingEngine
from kraken_tui.exchange.protocol import ExchangeError, OrderAck, TradeEvent
from kraken_tui.logging import LogBuffer
from kraken_tui.strategies import BaseStrategy, Intents

D = Decimal


class _BuyOnceParams(BaseModel):
    size: Decimal = D("0.1")


class BuyOnce(BaseStrategy):
    """Buys `size` at the ask once, then records the fill."""

    Params = _BuyOnceParams
    params: _BuyOnceParams

    def on_book(self, book: BookSnapshot) -> Intents:
        if self.state.get("sent") or book.best_ask is None:
            return None
        self.state["sent"] = True
        return [self.buy(self.params.size, book.best_ask.price, tag="entry")]

    def on_fill(self, execution):  # type: ignore[no-untyped-def]
        self.state["filled"] = str(D(self.state.get("filled", "0")) + execution.qty)
        self.signal = f"long {self.state['filled']}"
        return None


class QuoteEveryBook(BaseStrategy):
    """Rests a bid 1% under mid on every book change: a steady stream of new orders."""

    def on_book(self, book: BookSnapshot) -> Intents:
        if book.mid is None:
            return None
        return [self.limit(Side.BUY, D("0.001"), book.mid * D("0.99"))]


class BusyOnTrades(BaseStrategy):
    """About 20 us of work per public trade, like an indicator update."""

    def on_trade(self, trade: Trade) -> Intents:
        self.state["work"] = sum(range(400))
        return None


class Exploding(BaseStrategy):
    def on_book(self, book: BookSnapshot) -> Intents:
        raise RuntimeError("bad math")


def _manual(volume: str = "0.01", price: str = "49000") -> ManualOrder:
    return ManualOrder("BTC/USD", Side.BUY, OrderType.LIMIT, D(volume), D(price))


async def test_strategy_order_fills_and_positions_equal_balance_changes(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(strategy("buy", "BuyOnce", __name__)))
    try:
        await eventually(lambda: engine.positions.position("BTC/USD").qty == D("0.1"))
        await store.writer.flush()
        [order] = await store.orders.recent()
        assert order.status is OrderStatus.FILLED and order.strategy == "buy"
        fills = await store.executions.for_order(order.order_id or "")
        assert sum(f.qty for f in fills) == D("0.1")
        balances = await exchange.balances()
        baseline_btc = D(2)
        assert balances["BTC"].total == baseline_btc + engine.positions.position("BTC/USD").qty
        flows = engine.positions.asset_flows()
        assert balances["USD"].total == D(100_000) + flows["USD"]
        snapshot = engine.snapshot()
        [strategy_snap] = snapshot.strategies
        assert strategy_snap.orders_sent == 1 and D(strategy_snap.last_signal.split()[1]) == D(
            "0.1"
        )
        assert strategy_snap.position == D("0.1")
        assert snapshot.recent_fills and snapshot.recent_fills[0].qty == D("0.1")
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_order_row_is_pending_new_before_the_exchange_sees_it(tmp_path) -> None:
    store = await open_store(tmp_path)
    seen: list[OrderStatus | None] = []

    class WriteAheadProbe(SimulatedExchange):
        async def add_order(self, request: OrderRequest) -> OrderAck:
            row = await store.orders.by_cl_ord_id(request.cl_ord_id)
            seen.append(row.status if row is not None else None)
            return await super().add_order(request)

    plain = make_exchange()
    exchange = WriteAheadProbe(plain.venue)
    engine = await started(exchange, store, config())
    try:
        result = await engine.submit_manual_order(_manual())
        assert result.ok, result.message
        assert seen == [OrderStatus.PENDING_NEW]
        stored = await store.orders.by_cl_ord_id(result.detail["cl_ord_id"])
        assert stored is not None and stored.status is OrderStatus.NEW
        assert stored.order_id == result.detail["order_id"]
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_kill_switch_cancels_everything_and_halts_until_reset(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(strategy("q", "QuoteEveryBook", __name__)))
    try:
        for price in ("49000", "48900", "48800"):
            assert (await engine.submit_manual_order(_manual(price=price))).ok
        await eventually(lambda: len(venue_open_orders(exchange)) >= 4)
        result = await engine.kill_switch("test")
        await eventually(lambda: not venue_open_orders(exchange))
        assert result.ok and "HALTED" in result.message
        await asyncio.sleep(0.05)
        assert venue_open_orders(exchange) == []
        assert engine.risk.trading_state is TradingState.HALTED
        assert engine.snapshot().strategies[0].state is StrategyState.PAUSED
        denied = await engine.submit_manual_order(_manual())
        assert not denied.ok and "trading_state" in denied.message
        assert not (await engine.resume("q")).ok
    finally:
        await engine.stop(cancel_open_orders=True)

    restarted = await started(exchange, store, config(strategy("q", "QuoteEveryBook", __name__)))
    try:
        assert restarted.risk.trading_state is TradingState.HALTED
        assert restarted.snapshot().strategies[0].state is StrategyState.PAUSED
        assert not (await restarted.submit_manual_order(_manual())).ok
        assert (await restarted.reset_kill_switch()).ok
        assert (await restarted.submit_manual_order(_manual())).ok
    finally:
        await restarted.stop(cancel_open_orders=True)
        await store.close()


async def test_paused_strategy_sends_nothing(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(strategy("q", "QuoteEveryBook", __name__)))
    try:
        await eventually(lambda: engine.orders.sent >= 1)
        assert (await engine.pause("q")).ok
        await engine.orders.wait_sent()
        sent_before = engine.orders.sent
        for n in range(5):
            exchange.venue.place_synthetic("BTC/USD", Side.BUY, D(49_900 - n), D("0.5"))
            await asyncio.sleep(0.01)
        assert engine.orders.sent == sent_before
        assert engine.strategies.host("q").dropped_while_paused >= 1  # type: ignore[union-attr]
        assert (await engine.resume("q")).ok
        exchange.venue.place_synthetic("BTC/USD", Side.BUY, D(49_800), D("0.5"))
        await eventually(lambda: engine.orders.sent > sent_before)
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_pause_can_also_cancel_the_strategys_orders(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(
        exchange,
        store,
        config(strategy("q", "QuoteEveryBook", __name__), cancel_on_pause=True),
    )
    try:
        await eventually(lambda: len(engine.orders.open_orders_of("q")) >= 1)
        manual = await engine.submit_manual_order(_manual())
        result = await engine.pause("q")
        assert result.ok and "open orders cancelled" in result.message
        await engine.orders.wait_sent()
        await eventually(lambda: not engine.orders.open_orders_of("q"))
        remaining = [o.cl_ord_id for o in venue_open_orders(exchange)]  # type: ignore[attr-defined]
        assert remaining == [manual.detail["cl_ord_id"]]
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_a_raising_strategy_does_not_stop_the_other(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(
        exchange,
        store,
        config(strategy("bad", "Exploding", __name__), strategy("buy", "BuyOnce", __name__)),
    )
    try:
        await eventually(lambda: engine.positions.position("BTC/USD").qty == D("0.1"))
        states = {s.name: s for s in engine.snapshot().strategies}
        assert states["bad"].state is StrategyState.ERROR
        assert "RuntimeError: bad math" in (states["bad"].error or "")
        assert states["buy"].state is StrategyState.RUNNING
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_manual_order_denied_by_risk_names_rule_and_numbers(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        preview = engine.preview_order(_manual(volume="1", price="49000"))
        assert preview.rule == "max_order_notional"
        result = await engine.submit_manual_order(_manual(volume="1", price="49000"))
        assert not result.ok
        assert result.message == (
            "denied by risk (max_order_notional): order value 49000 exceeds the limit of 20000"
        )
        assert engine.snapshot().risk.denials == 1
        assert venue_open_orders(exchange) == []
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_post_only_order_that_would_cross_ends_canceled_with_krakens_reason(
    tmp_path,
) -> None:
    """Kraken accepts a post-only order that would cross and then cancels it itself with
    reason "Post only order" (issue 15; kraken-protocol notes section 9): an ordinary end
    of the order, shown with its reason, not an error."""
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO")
    try:
        crossing = ManualOrder(
            "BTC/USD", Side.BUY, OrderType.LIMIT, D("0.01"), D("50010"), post_only=True
        )
        result = await engine.submit_manual_order(crossing)
        assert result.ok
        cl_ord_id = result.detail["cl_ord_id"]

        def ended() -> bool:
            order = engine.orders.find(cl_ord_id=cl_ord_id, order_id=None)
            return order is not None and order.status is OrderStatus.CANCELED

        await eventually(ended)
        order = engine.orders.find(cl_ord_id=cl_ord_id, order_id=None)
        assert order is not None and order.reason == "Post only order"
        assert any(f"{cl_ord_id} canceled: Post only order" in line for line in lines)
        assert not any("| ERROR" in line for line in lines)
    finally:
        logger.remove(sink)
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_dead_man_switch_is_armed_only_while_orders_are_open(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        result = await engine.submit_manual_order(_manual())
        await engine.dead_man.refresh()
        assert engine.dead_man.armed
        exchange.venue.tick(now=time.time() + 61)
        await eventually(lambda: not engine.orders.open_orders)
        order = engine.orders.get(result.detail["cl_ord_id"])
        assert order is not None and order.status is OrderStatus.CANCELED
        await engine.dead_man.refresh()
        assert not engine.dead_man.armed
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_stop_without_cancel_leaves_orders_under_the_armed_switch(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    await engine.submit_manual_order(_manual())
    await engine.stop(cancel_open_orders=False)
    try:
        assert len(venue_open_orders(exchange)) == 1
        assert engine.dead_man.armed
    finally:
        await store.close()


async def test_snapshot_is_reused_until_something_changes(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(housekeeping_s=10.0))
    try:
        await asyncio.sleep(0.02)
        first = engine.snapshot()
        assert engine.snapshot() is first
        await engine.submit_manual_order(_manual())
        await eventually(lambda: len(engine.snapshot().open_orders) == 1)
        second = engine.snapshot()
        assert second is not first
        assert second.books is not first.books or second.open_orders is not first.open_orders
        assert second.instruments is first.instruments
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


@pytest.mark.parametrize("events", [20_000])
async def test_event_flood_is_processed_in_short_slices(tmp_path, events: int) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(
        exchange, store, config(strategy("busy", "BusyOnTrades", __name__), housekeeping_s=10.0)
    )
    turns_during_backlog = 0

    async def ticker() -> None:
        """Another task on the loop (the UI's place): does it get turns while the engine
        still has a backlog?"""
        nonlocal turns_during_backlog
        backlog = engine.bus.subscriptions[0]
        while True:
            await asyncio.sleep(0)
            if len(backlog):
                turns_during_backlog += 1

    probe = asyncio.create_task(ticker())
    try:
        trade = Trade("BTC/USD", Side.BUY, D("50000"), D("0.01"), engine.clock.now())
        handled_before = engine.events_handled
        for _ in range(events):
            engine.bus.publish(TradeEvent(trade))
        queue = engine.bus.subscriptions[0]

        def all_accounted_for() -> bool:
            return engine.events_handled - handled_before + queue.dropped >= events

        await eventually(all_accounted_for, within=20)
        assert queue.dropped >= events - engine.config.bus_capacity
        # How long each turn waits is a speed goal, measured by benchmarks/bench_ui.py; here
        # the behaviour: the engine hands the loop back many times while a backlog remains.
        assert turns_during_backlog >= 20, "the engine did not yield while working through it"
    finally:
        probe.cancel()
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_engine_is_a_complete_engine_api(tmp_path) -> None:
    from kraken_tui.engine.api import EngineApi

    store = await open_store(tmp_path)
    engine = TradingEngine(make_exchange(), store, config())
    assert isinstance(engine, EngineApi)
    assert API_KEY
    await store.close()


async def test_daily_loss_breach_fires_the_kill_switch(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    limits = replace(config().limits, daily_loss_limit=D("5"))
    engine = await started(
        exchange, store, config(strategy("buy", "BuyOnce", __name__), limits=limits)
    )
    try:
        await eventually(lambda: engine.risk.trading_state is TradingState.HALTED)
        risk = engine.snapshot().risk
        assert risk.reason.startswith("kill switch: daily_loss: daily PnL -")
        assert risk.daily_pnl <= D("-5")
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_strategy_state_survives_a_restart(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    first = await started(exchange, store, config(strategy("buy", "BuyOnce", __name__)))
    await eventually(lambda: first.positions.position("BTC/USD").qty == D("0.1"))
    await first.stop(cancel_open_orders=True)
    second = await started(exchange, store, config(strategy("buy", "BuyOnce", __name__)))
    try:
        host = second.strategies.host("buy")
        assert host is not None and host.strategy is not None
        assert host.strategy.state["sent"] is True
        await asyncio.sleep(0.05)
        assert exchange.calls["add_order"] == 1
        assert second.positions.strategy_position("BTC/USD", "buy").qty == D("0.1")
    finally:
        await second.stop(cancel_open_orders=True)
        await store.close()


async def test_headless_run_ends_cleanly_after_its_duration(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = TradingEngine(exchange, store, config(strategy("q", "QuoteEveryBook", __name__)))
    await engine.run(duration_s=0.2)
    try:
        assert engine.lifecycle.state.value == "stopped"
        assert venue_open_orders(exchange) == []
        assert exchange.calls["add_order"] >= 1
    finally:
        await store.close()


async def test_failed_start_faults_and_stop_still_closes(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = TradingEngine(exchange, store, config(symbols=("DOGE/USD",)))
    with pytest.raises(ExchangeError, match="does not list DOGE/USD"):
        await engine.start()
    assert engine.snapshot().state is ComponentState.FAULTED
    await engine.stop(cancel_open_orders=True)
    try:
        assert engine.lifecycle.state is ComponentState.STOPPED
        assert exchange.connection.state is ConnectionState.DISCONNECTED
    finally:
        await store.close()


async def test_cancelled_start_ends_stopped_not_faulted(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = TradingEngine(exchange, store, config())
    starting = asyncio.create_task(engine.start())
    await asyncio.sleep(0)
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    try:
        assert engine.lifecycle.state is ComponentState.STOPPED
    finally:
        await exchange.close()
        await store.close()


async def test_log_lines_are_pulled_in_batches_by_sequence(tmp_path) -> None:
    buffer = LogBuffer(100)
    sink = logger.add(buffer.write, level="INFO")
    store = await open_store(tmp_path)
    engine = TradingEngine(make_exchange(), store, config(), log_buffer=buffer)
    try:
        await engine.start()
        lines = engine.log_lines_since(0)
        assert lines and [line.seq for line in lines] == sorted(line.seq for line in lines)
        assert any("engine started" in line.message for line in lines)
        assert engine.log_lines_since(lines[-1].seq) == []
        assert len(engine.log_lines_since(0, limit=2)) == 2
    finally:
        logger.remove(sink)
        await engine.stop(cancel_open_orders=True)
        await store.close()
