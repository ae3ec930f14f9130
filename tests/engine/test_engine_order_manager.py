import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from engine_fixtures import (
    API_KEY,
    config,
    eventually,
    make_exchange,
    open_store,
    started,
    venue_open_orders,
)

from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.engine.api import ManualOrder
from kraken_tui.engine.order_manager import NOT_RECEIVED
from kraken_tui.exchange.protocol import OrderUpdate

D = Decimal


def _manual(price: str = "49000") -> ManualOrder:
    return ManualOrder("BTC/USD", Side.BUY, OrderType.LIMIT, D("0.01"), D(price))


async def test_lost_ack_is_resolved_by_lookup_and_never_resent(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        exchange.faults.lose_acks = 1
        exchange.faults.fail_lookups = 2
        result = await engine.submit_manual_order(_manual())
        assert result.ok, result.message
        cl_ord_id = result.detail["cl_ord_id"]
        assert exchange.calls["add_order"] == 1
        assert exchange.calls["lookup_order"] == 3
        on_venue = exchange.venue.open_orders(API_KEY, cl_ord_id=cl_ord_id)
        assert len(on_venue) == 1
        assert len(venue_open_orders(exchange)) == 1
        stored = await store.orders.by_cl_ord_id(cl_ord_id)
        assert stored is not None and stored.status is OrderStatus.NEW
        assert stored.order_id == on_venue[0].txid
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_lost_request_is_concluded_absent_only_after_repeated_lookups(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        exchange.faults.lose_requests = 1
        result = await engine.submit_manual_order(_manual())
        assert not result.ok and NOT_RECEIVED in result.message
        assert exchange.calls["add_order"] == 1
        assert exchange.calls["lookup_order"] == engine.config.lookup.absent_checks
        assert venue_open_orders(exchange) == []
        stored = await store.orders.by_cl_ord_id(result.detail["cl_ord_id"])
        assert stored is not None and stored.status is OrderStatus.REJECTED
        assert stored.reason == NOT_RECEIVED
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_order_concluded_absent_is_revived_when_the_exchange_reports_it(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        exchange.faults.lose_requests = 1
        result = await engine.submit_manual_order(_manual())
        cl_ord_id = result.detail["cl_ord_id"]
        exchange.venue.add_order(
            API_KEY,
            pair="BTC/USD",
            side="buy",
            order_type="limit",
            volume="0.01",
            price="49000",
            cl_ord_id=cl_ord_id,
        )
        await eventually(lambda: engine.orders.get(cl_ord_id).status is OrderStatus.NEW)  # type: ignore[union-attr]
        assert [o.cl_ord_id for o in engine.snapshot().open_orders] == [cl_ord_id]
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_updates_only_move_an_order_forward(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        placed = await engine.submit_manual_order(_manual())
        cl_ord_id = placed.detail["cl_ord_id"]
        now = datetime.now(UTC)

        def update(status: OrderStatus, filled: str) -> OrderUpdate:
            return OrderUpdate(
                placed.detail["order_id"], cl_ord_id, "BTC/USD", status, "x", D(filled), now
            )

        orders = engine.orders
        orders.on_order_update(update(OrderStatus.PARTIALLY_FILLED, "0.004"))
        orders.on_order_update(update(OrderStatus.NEW, "0.002"))
        order = orders.get(cl_ord_id)
        assert order is not None
        assert (order.status, order.filled) == (OrderStatus.PARTIALLY_FILLED, D("0.004"))
        orders.on_order_update(update(OrderStatus.CANCELED, "0.004"))
        orders.on_order_update(update(OrderStatus.NEW, "0.004"))
        order = orders.get(cl_ord_id)
        assert order is not None and order.status is OrderStatus.CANCELED
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_cancel_of_unknown_order_is_a_warning_not_an_error(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        result = await engine.cancel_order("does-not-exist")
        assert not result.ok and "no order does-not-exist" in result.message
        placed = await engine.submit_manual_order(_manual())
        exchange.venue.cancel_order(API_KEY, cl_ord_id=placed.detail["cl_ord_id"])
        again = await engine.cancel_order(placed.detail["cl_ord_id"])
        assert not again.ok and "canceled" in again.message
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_orders_sent_during_a_kill_switch_are_cancelled_on_ack(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        exchange.faults.lose_acks = 1
        pending = engine.orders.place(
            OrderRequest(
                cl_ord_id="inflightorder0001",
                symbol="BTC/USD",
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                volume=D("0.01"),
                price=D("49000"),
            )
        )
        assert pending.status is OrderStatus.PENDING_NEW
        await eventually(lambda: exchange.calls["add_order"] == 1)  # on the wire, ack lost
        await engine.kill_switch("test in flight")
        await engine.orders.wait_sent()
        await eventually(lambda: not venue_open_orders(exchange), within=1.0)
        await eventually(lambda: not engine.orders.open_orders)
        order = engine.orders.get("inflightorder0001")
        assert order is not None and order.status is OrderStatus.CANCELED
        assert exchange.calls["add_order"] == 1
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_orders_not_yet_sent_when_the_kill_switch_fires_are_refused_unsent(
    tmp_path,
) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        pending = engine.orders.place(
            OrderRequest(
                cl_ord_id="queuedorder00001",
                symbol="BTC/USD",
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                volume=D("0.01"),
                price=D("49000"),
            )
        )
        assert pending.status is OrderStatus.PENDING_NEW
        await engine.kill_switch("test queued")
        await engine.orders.wait_sent()
        order = engine.orders.get("queuedorder00001")
        assert order is not None and order.status is OrderStatus.REJECTED
        assert order.reason == "not sent: kill switch: test queued"
        assert exchange.calls["add_order"] == 0
        assert not venue_open_orders(exchange)
        stored = await store.orders.by_cl_ord_id("queuedorder00001")
        assert stored is not None and stored.status is OrderStatus.REJECTED
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_order_sync_catches_a_fill_the_private_feed_missed(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        placed = await engine.submit_manual_order(_manual(price="49995"))
        exchange.faults.mute_private_events = True
        exchange.venue.take_synthetic("BTC/USD", Side.SELL, D("0.01"), limit_price=D("49995"))
        exchange.venue.add_order(
            API_KEY, pair="BTC/USD", side="sell", order_type="limit", volume="0.02", price="50500"
        )
        order = engine.orders.get(placed.detail["cl_ord_id"])
        assert order is not None and order.status is OrderStatus.NEW
        assert engine.positions.position("BTC/USD").qty == 0

        await engine.sync_orders()
        await eventually(lambda: engine.positions.position("BTC/USD").qty == D("0.01"))
        order = engine.orders.get(placed.detail["cl_ord_id"])
        assert order is not None and order.status is OrderStatus.FILLED
        [adopted] = engine.orders.open_orders
        assert adopted.external and adopted.volume == D("0.02")

        await engine.sync_orders()
        await asyncio.sleep(0.05)
        assert engine.positions.position("BTC/USD").qty == D("0.01")
        assert len(await store.executions.since(None)) == 1
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_shutdown_abandons_an_unresolvable_send_to_reconciliation(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(shutdown_timeout_s=0.2))
    exchange.faults.lose_requests = 1
    exchange.faults.fail_lookups = 10_000
    pending = engine.orders.place(
        OrderRequest(
            cl_ord_id="unresolvable00001",
            symbol="BTC/USD",
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            volume=D("0.01"),
            price=D("49000"),
        )
    )
    await asyncio.sleep(0.05)
    started_at = asyncio.get_running_loop().time()
    await engine.stop(cancel_open_orders=True)
    assert asyncio.get_running_loop().time() - started_at < 2
    try:
        stored = await store.orders.by_cl_ord_id(pending.cl_ord_id)
        assert stored is not None and stored.status is OrderStatus.PENDING_NEW
        exchange.faults.fail_lookups = 0
        restarted = await started(exchange, store, config())
        resolved = await store.orders.by_cl_ord_id(pending.cl_ord_id)
        assert resolved is not None and resolved.status is OrderStatus.REJECTED
        await restarted.stop(cancel_open_orders=True)
    finally:
        await store.close()


async def test_amend_changes_price_on_the_exchange_and_in_the_store(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        placed = await engine.submit_manual_order(_manual())
        cl_ord_id = placed.detail["cl_ord_id"]
        assert await engine.orders.amend(cl_ord_id, price=D("49100"))
        [on_venue] = exchange.venue.open_orders(API_KEY, cl_ord_id=cl_ord_id)
        assert on_venue.price == D("49100")
        stored = await store.orders.by_cl_ord_id(cl_ord_id)
        assert stored is not None and stored.price == D("49100")
        assert not await engine.orders.amend("unknown-order", price=D("1"))
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()
