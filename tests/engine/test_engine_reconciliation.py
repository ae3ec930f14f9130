from datetime import UTC, datetime
from decimal import Decimal

from engine_fixtures import (
    API_KEY,
    config,
    make_exchange,
    open_store,
    started,
    venue_open_orders,
)
from loguru import logger
from simulated_exchange import SimulatedExchange

from kraken_tui.domain import Order, OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.engine.api import ManualOrder
from kraken_tui.engine.order_manager import NOT_RECEIVED, new_cl_ord_id
from kraken_tui.engine.startup import BASELINE_KEY

D = Decimal


def _resting_buy(price: str = "49995") -> ManualOrder:
    return ManualOrder("BTC/USD", Side.BUY, OrderType.LIMIT, D("0.01"), D(price))


def _reconnect(exchange: SimulatedExchange) -> SimulatedExchange:
    """A new client on the same venue: what a restarted process gets."""
    return SimulatedExchange(exchange.venue)


async def _pending_row(store, price: str = "49000") -> Order:  # type: ignore[no-untyped-def]
    request = OrderRequest(
        cl_ord_id=new_cl_ord_id(),
        symbol="BTC/USD",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        volume=D("0.01"),
        price=D(price),
        strategy="crashed",
    )
    order = Order.from_request(request, datetime.now(UTC))
    await store.orders.insert_pending(order)
    return order


async def test_fill_missed_while_down_is_recovered_exactly_once(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    first = await started(exchange, store, config())
    placed = await first.submit_manual_order(_resting_buy())
    cl_ord_id = placed.detail["cl_ord_id"]
    await first.stop(cancel_open_orders=False)

    exchange.venue.take_synthetic("BTC/USD", Side.SELL, D("0.01"), limit_price=D("49995"))

    second = await started(_reconnect(exchange), store, config())
    try:
        stored = await store.orders.by_cl_ord_id(cl_ord_id)
        assert stored is not None and stored.status is OrderStatus.FILLED
        fills = await store.executions.for_order(stored.order_id or "")
        assert len(fills) == 1 and fills[0].qty == D("0.01")
        assert second.positions.position("BTC/USD").qty == D("0.01")
        actions = [entry.action for entry in await store.reconciliation.recent()]
        assert "fill_recovered" in actions and "updated" in actions
    finally:
        await second.stop(cancel_open_orders=True)

    third = await started(_reconnect(exchange), store, config())
    try:
        assert len(await store.executions.for_order(stored.order_id or "")) == 1
        assert third.positions.position("BTC/USD").qty == D("0.01")
        balances = await third.exchange.balances()
        assert balances["BTC"].total == D(2) + D("0.01")
    finally:
        await third.stop(cancel_open_orders=True)
        await store.close()


async def test_external_orders_are_adopted_and_can_be_cancelled(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    exchange.venue.open_account(API_KEY)
    exchange.venue.add_order(
        API_KEY, pair="BTC/USD", side="sell", order_type="limit", volume="0.02", price="50500"
    )
    engine = await started(exchange, store, config())
    try:
        [adopted] = engine.orders.open_orders
        assert adopted.external and adopted.volume == D("0.02")
        assert adopted.cl_ord_id == f"ext-{adopted.order_id}"
        stored = await store.orders.by_order_id(adopted.order_id or "")
        assert stored is not None and stored.external
        actions = [entry.action for entry in await store.reconciliation.recent()]
        assert actions == ["adopted"]
        result = await engine.cancel_order(adopted.cl_ord_id)
        assert result.ok, result.message
        assert venue_open_orders(exchange) == []
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_pending_row_that_never_left_the_process_becomes_rejected(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    crashed = await _pending_row(store)
    engine = await started(exchange, store, config())
    try:
        stored = await store.orders.by_cl_ord_id(crashed.cl_ord_id)
        assert stored is not None and stored.status is OrderStatus.REJECTED
        assert stored.reason == NOT_RECEIVED
        assert engine.orders.open_orders == ()
        [entry] = await store.reconciliation.recent()
        assert (entry.action, entry.cl_ord_id) == ("not_received", crashed.cl_ord_id)
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_pending_row_sent_before_the_crash_takes_the_exchange_state(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    crashed = await _pending_row(store)
    exchange.venue.open_account(API_KEY)
    result = exchange.venue.add_order(
        API_KEY,
        pair="BTC/USD",
        side="buy",
        order_type="limit",
        volume="0.01",
        price="49000",
        cl_ord_id=crashed.cl_ord_id,
    )
    engine = await started(exchange, store, config())
    try:
        stored = await store.orders.by_cl_ord_id(crashed.cl_ord_id)
        assert stored is not None and stored.status is OrderStatus.NEW
        assert stored.order_id == result.txid and not stored.external
        [tracked] = engine.orders.open_orders
        assert tracked.cl_ord_id == crashed.cl_ord_id and tracked.strategy == "crashed"
        assert len(venue_open_orders(exchange)) == 1
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_balance_mismatch_at_start_raises_a_critical_alert(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    first = await started(exchange, store, config())
    await first.stop(cancel_open_orders=True)
    baseline = await store.kv.get(BASELINE_KEY)
    baseline["USD"] = str(D(baseline["USD"]) + 250)
    await store.kv.set(BASELINE_KEY, baseline, datetime.now(UTC))
    alerts: list[str] = []
    sink = logger.add(lambda m: alerts.append(m.record["message"]), level="CRITICAL")
    second = await started(_reconnect(exchange), store, config())
    try:
        assert len(alerts) == 1
        assert alerts[0].startswith("balance mismatch: USD")
        assert "difference -250" in alerts[0]
    finally:
        logger.remove(sink)
        await second.stop(cancel_open_orders=True)
        await store.close()
