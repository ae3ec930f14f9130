"""The operator's word wins over a strategy's own cleanup, and one order is cancelled once."""

import asyncio
from decimal import Decimal

from engine_fixtures import (
    config,
    eventually,
    make_exchange,
    open_store,
    started,
    strategy,
    venue_open_orders,
)

from kraken_tui.domain import OrderStatus, OrderType, Side
from kraken_tui.engine.api import ManualOrder

D = Decimal
MARKET_MAKER = strategy(
    "mm", "MarketMaker", "kraken_tui.strategies.market_maker", quote_size="0.01"
)


async def test_leaving_orders_at_shutdown_drops_the_cancels_a_strategy_returns_on_stop(
    tmp_path,
) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(MARKET_MAKER))
    try:
        await eventually(lambda: len(venue_open_orders(exchange)) == 2)
        quotes = {order.cl_ord_id for order in engine.orders.open_orders}
        await engine.stop(cancel_open_orders=False)
        assert exchange.calls["cancel_all"] == 0 and exchange.calls["cancel_order"] == 0
        assert {o.cl_ord_id for o in venue_open_orders(exchange)} == quotes  # type: ignore[attr-defined]
    finally:
        await store.close()


async def test_cancelling_at_shutdown_still_honours_the_strategy_and_empties_the_book(
    tmp_path,
) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(MARKET_MAKER))
    try:
        await eventually(lambda: len(venue_open_orders(exchange)) == 2)
        await engine.stop(cancel_open_orders=True)
        assert exchange.calls["cancel_all"] >= 1
        assert venue_open_orders(exchange) == []
    finally:
        await store.close()


async def test_concurrent_cancels_of_one_order_are_sent_once_and_share_the_answer(
    tmp_path,
) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        placed = await engine.submit_manual_order(
            ManualOrder("BTC/USD", Side.BUY, OrderType.LIMIT, D("0.01"), D("49000"))
        )
        cl_ord_id = placed.detail["cl_ord_id"]
        answers = await asyncio.gather(
            engine.orders.cancel(cl_ord_id),
            engine.orders.cancel(cl_ord_id),
            engine.cancel_order(cl_ord_id),
        )
        assert answers[:2] == [True, True] and answers[2].ok, answers
        assert exchange.calls["cancel_order"] == 1
        order = engine.orders.get(cl_ord_id)
        assert order is not None and order.status is OrderStatus.CANCELED
        later = await engine.orders.cancel(cl_ord_id)
        assert later is False and exchange.calls["cancel_order"] == 1
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()
