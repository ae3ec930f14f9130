"""A strategy's `AmendOrder` through the engine on the SimulatedExchange: the order changes in
place on the venue, risk judges it as it would be after the amend, a paused strategy's amend
is dropped, HALTED denies it, and a refusal reaches the strategy with Kraken's reason."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

from engine_fixtures import (
    API_KEY,
    LIMITS,
    config,
    eventually,
    make_exchange,
    open_store,
    started,
    strategy,
)
from simulated_exchange import SimulatedExchange

from kraken_tui.domain import BookSnapshot, Order, OrderType, Side, TradingState
from kraken_tui.engine.api import ManualOrder
from kraken_tui.engine.engine import TradingEngine
from kraken_tui.strategies import AmendOrder, BaseStrategy, Intent, Intents

D = Decimal
RESTING = D(49_800)
"""The strategy's bid: below the synthetic bids (49,990 and down), so it rests."""


class Amender(BaseStrategy):
    """Rests one post-only bid, then sends whatever the test queues on its next timer."""

    timer_interval_s = 0.01

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.queued: list[Intent] = []
        self.refusals: list[tuple[Order, str]] = []

    def on_book(self, book: BookSnapshot) -> Intents:
        if self.state.get("placed"):
            return None
        self.state["placed"] = True
        return [self.limit(Side.BUY, D("0.01"), RESTING, post_only=True)]

    def on_timer(self, now: object) -> Intents:  # type: ignore[override]
        queued, self.queued = self.queued, []
        return queued

    def on_amend_rejected(self, order: Order, reason: str) -> Intents:
        self.refusals.append((order, reason))
        return None


def amender(engine: TradingEngine) -> Amender:
    host = engine.strategies.host("a")
    assert host is not None and isinstance(host.strategy, Amender)
    return host.strategy


def venue_order(exchange: SimulatedExchange, cl_ord_id: str) -> object:
    [order] = exchange.venue.open_orders(API_KEY, cl_ord_id=cl_ord_id)
    return order


async def resting_order(engine: TradingEngine) -> Order:
    await eventually(lambda: any(o.order_id for o in engine.orders.open_orders_of("a")))
    [order] = engine.orders.open_orders_of("a")
    return order


async def settle(engine: TradingEngine) -> None:
    """Two timer rounds and the requests they started."""
    await asyncio.sleep(0.1)
    await asyncio.gather(*engine._background)


async def test_a_strategys_amend_moves_its_order_in_place_on_the_venue_and_in_the_store(
    tmp_path,
) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(strategy("a", "Amender", __name__)))
    try:
        order = await resting_order(engine)
        amender(engine).queued.append(AmendOrder(order.cl_ord_id, price=D(49_850)))
        await eventually(lambda: venue_order(exchange, order.cl_ord_id).price == D(49_850))  # type: ignore[attr-defined]
        assert venue_order(exchange, order.cl_ord_id).txid == order.order_id  # type: ignore[attr-defined]
        await eventually(lambda: engine.orders.open_orders_of("a")[0].price == D(49_850))
        stored = await store.orders.by_cl_ord_id(order.cl_ord_id)
        assert stored is not None and stored.price == D(49_850)
        assert amender(engine).open_orders[0].price == D(49_850), "the strategy sees it too"
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_an_amend_the_exchange_refuses_leaves_the_order_and_tells_the_strategy_why(
    tmp_path,
) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(strategy("a", "Amender", __name__)))
    try:
        order = await resting_order(engine)
        # the best ask is 50,010: a post-only bid there would take liquidity
        amender(engine).queued.append(AmendOrder(order.cl_ord_id, price=D(50_010)))
        await eventually(lambda: bool(amender(engine).refusals))
        [(refused, reason)] = amender(engine).refusals
        assert reason == "EOrder:Post only order"
        assert refused.cl_ord_id == order.cl_ord_id and refused.price == RESTING
        assert venue_order(exchange, order.cl_ord_id).price == RESTING  # type: ignore[attr-defined]
        assert engine.orders.open_orders_of("a")[0].price == RESTING
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_risk_denies_an_amend_beyond_the_price_band(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(strategy("a", "Amender", __name__)))
    try:
        order = await resting_order(engine)
        denials = engine.risk.snapshot.denials
        amender(engine).queued.append(AmendOrder(order.cl_ord_id, price=D(45_000)))  # -10 %
        await eventually(lambda: engine.risk.snapshot.denials == denials + 1)
        assert "price_band" in (engine.risk.snapshot.last_denial or "")
        await settle(engine)
        assert venue_order(exchange, order.cl_ord_id).price == RESTING  # type: ignore[attr-defined]
        assert amender(engine).refusals == [], "a risk denial is not the exchange's refusal"
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_risk_judges_the_amended_order_in_place_of_the_open_one_not_beside_it(
    tmp_path,
) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    limits = replace(LIMITS, max_open_orders=1, max_position_per_strategy=D(600))
    engine = await started(
        exchange, store, config(strategy("a", "Amender", __name__), limits=limits)
    )
    try:
        order = await resting_order(engine)  # 0.01 at 49,800 = 498: one order, under 600
        amender(engine).queued.append(AmendOrder(order.cl_ord_id, price=D(49_900)))
        await eventually(lambda: engine.orders.open_orders_of("a")[0].price == D(49_900))
        denials = engine.risk.snapshot.denials
        amender(engine).queued.append(AmendOrder(order.cl_ord_id, volume=D("0.02")))
        await eventually(lambda: engine.risk.snapshot.denials == denials + 1)
        assert "max_position_strategy" in (engine.risk.snapshot.last_denial or ""), "998 > 600"
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_a_paused_strategys_amend_is_dropped(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(strategy("a", "Amender", __name__)))
    try:
        order = await resting_order(engine)
        assert (await engine.pause("a")).ok
        amender(engine).queued.append(AmendOrder(order.cl_ord_id, price=D(49_850)))
        host = engine.strategies.host("a")
        assert host is not None
        await eventually(lambda: host.dropped_while_paused == 1)
        await settle(engine)
        assert venue_order(exchange, order.cl_ord_id).price == RESTING  # type: ignore[attr-defined]
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_halted_trading_denies_an_amend(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(strategy("a", "Amender", __name__)))
    try:
        order = await resting_order(engine)
        engine.risk.set_trading_state(TradingState.HALTED, "test")
        amender(engine).queued.append(AmendOrder(order.cl_ord_id, price=D(49_850)))
        await eventually(lambda: "trading_state" in (engine.risk.snapshot.last_denial or ""))
        await settle(engine)
        assert venue_order(exchange, order.cl_ord_id).price == RESTING  # type: ignore[attr-defined]
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_a_strategy_cannot_amend_an_order_that_is_not_its_own(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(strategy("a", "Amender", __name__)))
    try:
        await resting_order(engine)
        manual = await engine.submit_manual_order(
            ManualOrder("BTC/USD", Side.BUY, OrderType.LIMIT, D("0.01"), D(49_000))
        )
        cl_ord_id = manual.detail["cl_ord_id"]
        amender(engine).queued.append(AmendOrder(cl_ord_id, price=D(49_100)))
        await settle(engine)
        assert venue_order(exchange, cl_ord_id).price == D(49_000)  # type: ignore[attr-defined]
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()
