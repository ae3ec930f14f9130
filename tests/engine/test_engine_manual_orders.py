"""The operator's own orders through `EngineApi`, as strategies place them: a market buy
sized in quote, and `amend_order` on an open order, both risk-checked like a strategy's
intents. A real SQLite file and the SimulatedExchange on the sandbox venue (bids 49,990 and
down, asks 50,010 and up, one BTC each)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from engine_fixtures import (
    API_KEY,
    LIMITS,
    config,
    eventually,
    make_exchange,
    open_store,
    started,
)
from simulated_exchange import SimulatedExchange

from kraken_tui.domain import OrderStatus, OrderType, Side, TradingState
from kraken_tui.engine.api import ManualOrder
from kraken_tui.engine.engine import TradingEngine

D = Decimal
BID = ManualOrder("BTC/USD", Side.BUY, OrderType.LIMIT, D("0.01"), D(49_800), post_only=True)
"""Below the best bid, so it rests."""
Running = tuple[SimulatedExchange, TradingEngine]


@pytest.fixture
async def venue_and_engine(
    tmp_path: Path,
) -> AsyncIterator[Running]:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    limits = replace(LIMITS, max_position_per_symbol=D(1_500))
    engine = await started(exchange, store, config(limits=limits))
    try:
        yield exchange, engine
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


def venue_price_and_volume(exchange: SimulatedExchange, cl_ord_id: str) -> tuple[D, D]:
    [order] = exchange.venue.open_orders(API_KEY, cl_ord_id=cl_ord_id)
    return order.price, order.volume  # type: ignore[attr-defined]


async def resting(engine: TradingEngine) -> str:
    placed = await engine.submit_manual_order(BID)
    assert placed.ok, placed.message
    return placed.detail["cl_ord_id"]


async def test_a_market_buy_sized_in_quote_spends_its_amount_and_the_position_is_what_it_bought(
    venue_and_engine: Running,
) -> None:
    _, engine = venue_and_engine
    spend = ManualOrder("BTC/USD", Side.BUY, OrderType.MARKET, D(0), quote_volume=D(500))
    assert engine.preview_order(spend).allowed
    result = await engine.submit_manual_order(spend)
    assert result.ok, result.message
    assert "500 USD" in result.message
    order = engine.orders.get(result.detail["cl_ord_id"])
    assert order is not None and order.quote_volume == D(500)
    await eventually(lambda: engine.positions.position("BTC/USD").qty > 0)
    bought = engine.positions.position("BTC/USD").qty
    assert bought * D(50_010) <= D(500) and bought > D("0.0099"), bought


async def test_a_quote_buy_over_a_limit_or_sized_twice_is_refused_before_the_exchange(
    venue_and_engine: Running,
) -> None:
    exchange, engine = venue_and_engine
    spend = ManualOrder("BTC/USD", Side.BUY, OrderType.MARKET, D(0), quote_volume=D(5_000))
    denied = await engine.submit_manual_order(spend)
    assert not denied.ok and denied.detail["rule"] == "max_position_symbol", denied.message
    both = replace(spend, quote_volume=D(100), volume=D("0.001"))
    refused = await engine.submit_manual_order(both)
    assert not refused.ok and "one or the other" in refused.message
    sell = ManualOrder("BTC/USD", Side.SELL, OrderType.MARKET, D(0), quote_volume=D(100))
    assert engine.preview_order(sell).rule == "order_size"
    assert engine.orders.sent == 0 and list(exchange.venue.open_orders(API_KEY)) == []


async def test_amend_order_moves_an_open_order_in_place_on_the_venue_and_in_the_store(
    venue_and_engine: Running,
) -> None:
    exchange, engine = venue_and_engine
    cl_ord_id = await resting(engine)
    txid = engine.orders.get(cl_ord_id).order_id  # type: ignore[union-attr]
    assert engine.preview_amend(cl_ord_id, price=D(49_850), volume=D("0.02")).allowed
    result = await engine.amend_order(cl_ord_id, price=D(49_850), volume=D("0.02"))
    assert result.ok, result.message
    assert venue_price_and_volume(exchange, cl_ord_id) == (D(49_850), D("0.02"))
    [venue_order] = exchange.venue.open_orders(API_KEY, cl_ord_id=cl_ord_id)
    assert venue_order.txid == txid, "amended in place, not replaced"  # type: ignore[attr-defined]
    order = engine.orders.get(cl_ord_id)
    assert order is not None and (order.price, order.volume) == (D(49_850), D("0.02"))
    await engine.store.writer.flush()
    stored = await engine.store.orders.by_cl_ord_id(cl_ord_id)
    assert stored is not None and (stored.price, stored.volume) == (D(49_850), D("0.02"))


async def test_risk_judges_an_amend_as_the_order_it_makes_and_a_denial_leaves_it(
    venue_and_engine: Running,
) -> None:
    exchange, engine = venue_and_engine
    cl_ord_id = await resting(engine)
    # 0.01 at 49,800 is 498 of the 1,500 position limit: 0.03 (1,494) fits in place of it,
    # though beside it (498 + 1,494) it would not
    assert engine.preview_amend(cl_ord_id, volume=D("0.03")).allowed
    over = await engine.amend_order(cl_ord_id, volume=D("0.04"))
    assert not over.ok and over.detail["rule"] == "max_position_symbol", over.message
    band = await engine.amend_order(cl_ord_id, price=D(45_000))
    assert not band.ok and band.detail["rule"] == "price_band", band.message
    assert engine.risk.snapshot.denials == 2
    engine.risk.set_trading_state(TradingState.HALTED, "test")
    assert engine.preview_amend(cl_ord_id, price=D(49_850)).rule == "trading_state"
    assert venue_price_and_volume(exchange, cl_ord_id) == (D(49_800), D("0.01"))


async def test_an_amend_with_nothing_to_change_or_on_no_open_order_is_refused(
    venue_and_engine: Running,
) -> None:
    _, engine = venue_and_engine
    cl_ord_id = await resting(engine)
    assert (await engine.amend_order(cl_ord_id)).detail["rule"] == "amend"
    unknown = await engine.amend_order("no-such-order", price=D(49_850))
    assert not unknown.ok and unknown.detail["rule"] == "unknown_order"
    assert (await engine.cancel_order(cl_ord_id)).ok
    await eventually(lambda: engine.orders.get(cl_ord_id).status is OrderStatus.CANCELED)  # type: ignore[union-attr]
    gone = await engine.amend_order(cl_ord_id, price=D(49_850))
    assert not gone.ok and gone.detail["rule"] == "unknown_order"


async def test_an_amend_the_exchange_refuses_reports_its_reason_and_leaves_the_order(
    venue_and_engine: Running,
) -> None:
    exchange, engine = venue_and_engine
    cl_ord_id = await resting(engine)
    # the best ask is 50,010: the post-only bid there would take liquidity
    refused = await engine.amend_order(cl_ord_id, price=D(50_010))
    assert not refused.ok and "EOrder:Post only order" in refused.message
    assert venue_price_and_volume(exchange, cl_ord_id) == (D(49_800), D("0.01"))
    order = engine.orders.get(cl_ord_id)
    assert order is not None and order.price == D(49_800) and order.is_open
