"""Market buys sized in quote (Kraken's `viqc`) through the engine: a real SQLite file, a
SimulatedExchange on the sandbox venue (asks at 50,010, 50,020, ... one BTC each)."""

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

from engine_fixtures import (
    API_KEY,
    config,
    eventually,
    make_exchange,
    open_store,
    started,
    strategy,
)

from kraken_tui.domain import BookSnapshot, Order, OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.engine.order_manager import new_cl_ord_id
from kraken_tui.store import Store
from kraken_tui.strategies import BaseStrategy, Intents

D = Decimal
BEST_ASK = D("50010")
USD_BEFORE = D(100_000)


class SpendOnce(BaseStrategy):
    """Spends 1,000 USD at market on the first book it sees, whatever a coin costs."""

    def on_book(self, book: BookSnapshot) -> Intents:
        if self.state.get("sent") or book.best_ask is None:
            return None
        self.state["sent"] = True
        return [self.buy_quote(D("1000"), tag="all in")]


def _quote_request(amount: str) -> OrderRequest:
    return OrderRequest(
        cl_ord_id=new_cl_ord_id(),
        symbol="BTC/USD",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        volume=D(0),
        quote_volume=D(amount),
    )


async def test_strategy_quote_buy_spends_its_amount_and_the_position_is_what_it_bought(
    tmp_path,
) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config(strategy("spend", "SpendOnce", __name__)))
    try:
        await eventually(lambda: engine.positions.position("BTC/USD").qty > 0)
        await store.writer.flush()
        [order] = await store.orders.recent()
        assert order.strategy == "spend" and order.status is OrderStatus.FILLED
        assert order.quote_volume == D("1000") and order.volume == 0
        fills = await store.executions.for_order(order.order_id or "")
        bought = sum(f.qty for f in fills)
        assert bought == order.filled == engine.positions.position("BTC/USD").qty
        assert bought == (D("1000") / BEST_ASK).quantize(D("0.00000001"), "ROUND_DOWN")
        fees = sum(f.fee for f in fills)
        spent = USD_BEFORE - (await exchange.balances())["USD"].total
        assert D("999.9") < spent - fees <= D("1000")
        assert engine.positions.strategy_position("BTC/USD", "spend").qty == bought
        host = engine.strategies.host("spend")
        assert host is not None and host.orders_sent == 1
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_quote_amount_is_written_ahead_and_read_back_after_a_restart(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    request = _quote_request("250.5")
    try:
        placed = await engine.orders.place_and_wait(request)
        assert placed.quote_volume == D("250.5")
        await eventually(lambda: engine.orders.get(request.cl_ord_id).status is OrderStatus.FILLED)  # type: ignore[union-attr]
        tracked = engine.orders.get(request.cl_ord_id)
        assert tracked is not None and tracked.quote_volume == D("250.5") and tracked.filled > 0
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()

    reopened = await open_store(tmp_path)
    try:
        stored = await reopened.orders.by_cl_ord_id(request.cl_ord_id)
        assert stored is not None
        assert (stored.quote_volume, stored.volume, stored.remaining) == (D("250.5"), 0, 0)
        assert stored.status is OrderStatus.FILLED and stored.filled == tracked.filled
    finally:
        await reopened.close()


async def test_quote_buy_sent_just_before_a_crash_is_reconciled_with_its_amount(
    tmp_path,
) -> None:
    exchange = make_exchange()
    await exchange.connect()  # the run that crashed: it wrote ahead and sent, then died
    request = _quote_request("500")
    store = await open_store(tmp_path)
    await store.orders.insert_pending(Order.from_request(request, datetime.now(UTC)))
    await store.close()
    await exchange.close()
    exchange.venue.add_order(  # the send that happened before the crash, never acknowledged
        API_KEY,
        pair="BTC/USD",
        side="buy",
        order_type="market",
        volume="500",
        volume_in_quote=True,
        cl_ord_id=request.cl_ord_id,
    )

    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        reconciled = engine.orders.get(request.cl_ord_id)
        assert reconciled is not None and reconciled.status is OrderStatus.FILLED
        assert reconciled.quote_volume == D("500") and reconciled.volume == 0
        assert reconciled.filled == engine.positions.position("BTC/USD").qty > 0
        stored = await store.orders.by_cl_ord_id(request.cl_ord_id)
        assert stored == reconciled
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_quote_buy_placed_outside_the_engine_is_adopted_with_its_amount(tmp_path) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(exchange, store, config())
    try:
        placed = exchange.venue.add_order(
            API_KEY,
            pair="BTC/USD",
            side="buy",
            order_type="market",
            volume="300",
            volume_in_quote=True,
        )
        txid = placed.txid
        assert txid is not None
        await eventually(lambda: _filled(engine.orders.find(cl_ord_id=None, order_id=txid)))
        adopted = engine.orders.find(cl_ord_id=None, order_id=txid)
        assert adopted is not None and adopted.external
        assert adopted.quote_volume == D("300") and adopted.volume == 0
        stored = await _stored_when_filled(store, txid)
        assert stored.external and stored.quote_volume == D("300") and stored.volume == 0
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


def _filled(order: Order | None) -> bool:
    return order is not None and order.status is OrderStatus.FILLED and order.filled > 0


async def _stored_when_filled(store: Store, order_id: str, within: float = 2.0) -> Order:
    """The adopted row is written in the background and its fill through the batching writer."""
    deadline = time.monotonic() + within
    while True:
        await store.writer.flush()
        stored = await store.orders.by_order_id(order_id)
        if _filled(stored):
            assert stored is not None
            return stored
        if time.monotonic() > deadline:
            raise AssertionError(f"order {order_id} not stored as filled in time: {stored}")
        await asyncio.sleep(0.01)


async def test_row_stored_without_its_quote_amount_learns_it_from_the_exchange(tmp_path) -> None:
    exchange = make_exchange()
    await exchange.connect()
    txid = exchange.venue.add_order(
        API_KEY, pair="BTC/USD", side="buy", order_type="market", volume="200", volume_in_quote=True
    ).txid
    await exchange.close()
    store = await open_store(tmp_path)
    await store.orders.adopt(  # as a row adopted before orders kept their quote amount
        Order(
            cl_ord_id=f"ext-{txid}",
            symbol="BTC/USD",
            side=Side.BUY,
            order_type=OrderType.MARKET,
            volume=D(0),
            status=OrderStatus.NEW,
            order_id=txid,
            created_at=datetime.now(UTC),
        )
    )

    engine = await started(exchange, store, config())
    try:
        known = engine.orders.find(cl_ord_id=None, order_id=txid)
        assert known is not None and known.status is OrderStatus.FILLED
        assert known.quote_volume == D("200") and known.remaining == 0
        assert await store.orders.by_order_id(txid or "") == known
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()


async def test_quote_buy_made_while_the_engine_was_down_is_adopted_and_logged_by_its_amount(
    tmp_path,
) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    first = await started(exchange, store, config())
    await first.stop(cancel_open_orders=True)
    await exchange.connect()  # someone trades on the account while the engine is down
    txid = exchange.venue.add_order(
        API_KEY, pair="BTC/USD", side="buy", order_type="market", volume="300", volume_in_quote=True
    ).txid
    await exchange.close()

    second = await started(exchange, store, config())
    try:
        adopted = await store.orders.by_order_id(txid or "")
        assert adopted is not None and adopted.external
        assert adopted.quote_volume == D("300") and adopted.volume == 0
        [entry] = [e for e in await store.reconciliation.recent() if e.action == "adopted"]
        assert entry.order_id == txid
        assert entry.detail == "buy 300 USD of BTC/USD filled"
    finally:
        await second.stop(cancel_open_orders=True)
        await store.close()
