"""`StaticEngine` stands in for the engine only where a scenario cannot be produced for real
(seeded layouts, the Redis layer's tests, states the engine reaches by itself). This holds it to
`TradingEngine` on a sandbox: each test runs the same commands against both and asserts the
same observable results through `EngineApi`, the only surface the console and remote control
see. Message wording is the engine's own and not part of the contract; outcomes are."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest
from engine_on_sandbox import QUIET_SMA, engine_on_sandbox, resting_bid
from static_engine import MAX_ORDER_NOTIONAL, StaticEngine

from kraken_tui.domain import Order, OrderStatus, OrderType, Side, StrategyState, TradingState
from kraken_tui.engine.api import EngineApi, ManualOrder

PATIENCE_S = 10.0


@dataclass(frozen=True)
class Subject:
    engine: EngineApi
    strategy: str
    """A strategy that is running when the test starts."""


@pytest.fixture(params=["static_engine", "trading_engine"])
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    if request.param == "static_engine":
        yield Subject(StaticEngine(), "sma_cross")
        return
    risk = {"max_order_notional": str(MAX_ORDER_NOTIONAL)}
    async with engine_on_sandbox(tmp_path, [QUIET_SMA], risk=risk) as run:
        await run.resting_bid()  # the book has arrived: orders can be priced against it
        yield Subject(run.engine, str(QUIET_SMA["name"]))


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """The engine publishes changes to its snapshot as it processes its events, a moment after
    a command returns; the console reads it at its frame rate, so that moment is invisible."""
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        assert time.monotonic() < deadline, f"never true: {what}"
        await asyncio.sleep(0.02)


def open_ids(engine: EngineApi) -> set[str]:
    return {o.cl_ord_id for o in engine.snapshot().open_orders}


def open_order(engine: EngineApi, cl_ord_id: str) -> Order | None:
    return next((o for o in engine.snapshot().open_orders if o.cl_ord_id == cl_ord_id), None)


def states(engine: EngineApi) -> set[StrategyState]:
    return {s.state for s in engine.snapshot().strategies}


def state_of(engine: EngineApi, strategy: str) -> StrategyState:
    return next(s.state for s in engine.snapshot().strategies if s.name == strategy)


def oversized(bid: ManualOrder) -> ManualOrder:
    assert bid.price is not None
    return replace(bid, volume=(2 * MAX_ORDER_NOTIONAL / bid.price).quantize(Decimal("0.001")))


async def test_orders_are_denied_accepted_and_cancelled_alike(subject: Subject) -> None:
    engine = subject.engine
    bid = resting_bid(engine.snapshot())
    before = open_ids(engine)

    preview = engine.preview_order(oversized(bid))
    assert (preview.allowed, preview.rule) == (False, "max_order_notional")
    denied = await engine.submit_manual_order(oversized(bid))
    assert not denied.ok and denied.detail["rule"] == "max_order_notional"
    assert engine.preview_order(bid).allowed

    accepted = [await engine.submit_manual_order(bid) for _ in range(2)]
    assert all(result.ok and result.detail["order_id"] for result in accepted), accepted
    placed = [result.detail["cl_ord_id"] for result in accepted]
    await eventually(lambda: open_ids(engine) == before | set(placed), "both orders listed")
    first = open_order(engine, placed[0])
    assert first is not None
    assert (first.symbol, first.side, first.order_type, first.volume, first.price) == (
        bid.symbol,
        bid.side,
        bid.order_type,
        bid.volume,
        bid.price,
    )
    assert (first.status, first.strategy) == (OrderStatus.NEW, None)

    assert not (await engine.cancel_order("no-such-order")).ok
    assert (await engine.cancel_order(placed[0])).ok
    await eventually(lambda: placed[0] not in open_ids(engine), "cancelled order gone")

    listed = open_ids(engine)
    assert (await engine.cancel_all()).ok
    assert open_ids(engine) <= listed
    assert all(not o.status.is_final for o in engine.snapshot().open_orders)
    await eventually(lambda: open_ids(engine) == set(), "cancel-all confirmed")
    assert engine.snapshot().risk.trading_state is TradingState.ACTIVE


async def test_pause_resume_and_the_kill_switch_change_strategies_and_trading_alike(
    subject: Subject,
) -> None:
    engine, name = subject.engine, subject.strategy
    bid = resting_bid(engine.snapshot())

    assert (await engine.pause(name)).ok
    await eventually(lambda: state_of(engine, name) is StrategyState.PAUSED, "paused")
    assert not (await engine.pause(name)).ok
    assert not (await engine.pause("no_such_strategy")).ok
    assert (await engine.resume(name)).ok
    await eventually(lambda: state_of(engine, name) is StrategyState.RUNNING, "resumed")
    assert not (await engine.resume(name)).ok
    assert not (await engine.reset_kill_switch()).ok

    placed = await engine.submit_manual_order(bid)
    assert placed.ok, placed.message
    await eventually(lambda: placed.detail["cl_ord_id"] in open_ids(engine), "order listed")

    assert (await engine.kill_switch("contract")).ok
    assert engine.snapshot().risk.trading_state is TradingState.HALTED
    assert states(engine) == {StrategyState.PAUSED}
    await eventually(lambda: open_ids(engine) == set(), "kill switch cancelled every order")

    denied = await engine.submit_manual_order(bid)
    assert not denied.ok and "HALTED" in denied.message.upper()
    assert engine.preview_order(bid).rule == "trading_state"
    assert not (await engine.resume(name)).ok
    assert not (await engine.resume_all()).ok
    assert states(engine) == {StrategyState.PAUSED}

    assert (await engine.reset_kill_switch()).ok
    assert engine.snapshot().risk.trading_state is TradingState.ACTIVE
    assert states(engine) == {StrategyState.PAUSED}, "strategies stay paused until resumed"
    assert (await engine.resume(name)).ok
    await eventually(lambda: state_of(engine, name) is StrategyState.RUNNING, "resumed")
    accepted = await engine.submit_manual_order(bid)
    assert accepted.ok, accepted.message


async def test_an_open_order_is_amended_in_place_and_a_bad_amend_refused_alike(
    subject: Subject,
) -> None:
    engine = subject.engine
    bid = resting_bid(engine.snapshot())
    assert bid.price is not None
    tick = engine.snapshot().instruments[bid.symbol].tick_size
    placed = await engine.submit_manual_order(bid)
    assert placed.ok, placed.message
    cl_ord_id = placed.detail["cl_ord_id"]
    await eventually(lambda: cl_ord_id in open_ids(engine), "order listed")

    too_big = oversized(bid).volume
    assert engine.preview_amend(cl_ord_id, volume=too_big).rule == "max_order_notional"
    denied = await engine.amend_order(cl_ord_id, volume=too_big)
    assert not denied.ok and denied.detail["rule"] == "max_order_notional"
    assert engine.preview_amend(cl_ord_id).rule == "amend"
    assert engine.preview_amend("no-such-order", price=bid.price).rule == "unknown_order"
    assert not (await engine.amend_order("no-such-order", price=bid.price)).ok

    new_price, new_volume = bid.price - 10 * tick, bid.volume * 2
    assert engine.preview_amend(cl_ord_id, price=new_price, volume=new_volume).allowed
    amended = await engine.amend_order(cl_ord_id, price=new_price, volume=new_volume)
    assert amended.ok, amended.message

    def moved() -> bool:
        order = open_order(engine, cl_ord_id)
        return order is not None and (order.price, order.volume) == (new_price, new_volume)

    await eventually(moved, "amend shown in the open orders")
    assert (await engine.cancel_order(cl_ord_id)).ok


async def test_a_market_buy_sized_in_quote_is_previewed_by_its_amount_alike(
    subject: Subject,
) -> None:
    engine = subject.engine
    spend = ManualOrder(
        "BTC/USD", Side.BUY, OrderType.MARKET, Decimal(0), quote_volume=Decimal("50")
    )
    assert engine.preview_order(spend).allowed
    over = replace(spend, quote_volume=2 * MAX_ORDER_NOTIONAL)
    assert engine.preview_order(over).rule == "max_order_notional"
    both = replace(spend, volume=Decimal("0.001"))
    assert engine.preview_order(both).rule == "order_size"
    assert not (await engine.submit_manual_order(both)).ok
