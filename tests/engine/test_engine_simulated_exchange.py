"""SimulatedExchange (tests/support/simulated_exchange.py) against the real sandbox venue."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from engine_fixtures import seed_liquidity
from simulated_exchange import SimulatedExchange

from kraken_tui.clock import VirtualClock
from kraken_tui.domain import (
    ConnectionState,
    Liquidity,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from kraken_tui.exchange.protocol import (
    BalancesEvent,
    BookChanged,
    CandleEvent,
    ExchangeEvent,
    FillEvent,
    OrderEvent,
    OrderRejected,
    OutcomeUnknown,
    TradeEvent,
)

D = Decimal
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _request(cl_ord_id: str, side: Side = Side.BUY, **kw: object) -> OrderRequest:
    values: dict[str, object] = {
        "cl_ord_id": cl_ord_id,
        "symbol": "BTC/USD",
        "side": side,
        "order_type": OrderType.LIMIT,
        "volume": D("0.01"),
        "price": D("49000"),
    }
    values.update(kw)
    return OrderRequest(**values)  # type: ignore[arg-type]


@pytest.fixture
async def connected() -> tuple[SimulatedExchange, VirtualClock, list[ExchangeEvent]]:
    clock = VirtualClock(START)
    exchange = SimulatedExchange.create(clock, id_seed=3)
    events: list[ExchangeEvent] = []
    exchange.set_event_handler(events.append)
    await exchange.connect()
    seed_liquidity(exchange)
    await exchange.subscribe_market(["BTC/USD"])
    return exchange, clock, events


async def test_connect_opens_a_funded_account_with_display_asset_names(connected) -> None:
    exchange, _, _ = connected
    balances = await exchange.balances()
    assert balances["BTC"].total == D(2) and balances["USD"].total == D(100_000)
    assert exchange.connection.state is ConnectionState.CONNECTED
    assert exchange.instruments["BTC/USD"].tick_size == D("0.1")


async def test_book_reflects_the_venue_best_levels_first(connected) -> None:
    exchange, _, _ = connected
    book = exchange.book("BTC/USD")
    assert book is not None
    assert book.best_bid.price == D(49_990) and book.best_ask.price == D(50_010)  # type: ignore[union-attr]
    assert exchange.book("ETH/USD") is None


async def test_marketable_order_reports_fill_and_order_update_with_fees(connected) -> None:
    exchange, _, events = connected
    events.clear()
    ack = await exchange.add_order(_request("c1", price=D("50010")))
    fills = [e.execution for e in events if isinstance(e, FillEvent)]
    updates = [e.update for e in events if isinstance(e, OrderEvent)]
    assert [f.qty for f in fills] == [D("0.01")]
    fill = fills[0]
    assert (fill.order_id, fill.cl_ord_id, fill.price) == (ack.order_id, "c1", D("50010"))
    assert fill.liquidity is Liquidity.TAKER and fill.fee_ccy == "USD" and fill.fee > 0
    assert updates[-1].status is OrderStatus.FILLED and updates[-1].filled == D("0.01")
    assert any(isinstance(e, BalancesEvent) for e in events)
    assert any(isinstance(e, BookChanged) for e in events)
    assert any(isinstance(e, TradeEvent) for e in events)
    [recovered] = await exchange.executions_since(None)
    assert recovered.exec_id == fill.exec_id and recovered.qty == fill.qty


async def test_rejection_carries_krakens_error_string(connected) -> None:
    exchange, _, _ = connected
    with pytest.raises(OrderRejected) as info:
        await exchange.add_order(_request("c2", volume=D("0.00001")))
    assert info.value.kraken_error == "EOrder:Order minimum not met"


async def test_lookup_finds_open_then_closed_orders_by_cl_ord_id(connected) -> None:
    exchange, _, _ = connected
    await exchange.add_order(_request("resting"))
    found = await exchange.lookup_order("resting")
    assert found is not None and found.status is OrderStatus.NEW
    assert await exchange.cancel_order(cl_ord_id="resting")
    closed = await exchange.lookup_order("resting")
    assert closed is not None and closed.status is OrderStatus.CANCELED
    assert await exchange.lookup_order("never-sent") is None
    assert not await exchange.cancel_order(cl_ord_id="resting")


async def test_lost_ack_still_places_the_order(connected) -> None:
    exchange, _, _ = connected
    exchange.faults.lose_acks = 1
    with pytest.raises(OutcomeUnknown):
        await exchange.add_order(_request("lost-ack"))
    assert [o.cl_ord_id for o in await exchange.open_orders()] == ["lost-ack"]


async def test_dead_man_switch_fires_on_the_virtual_clock(connected) -> None:
    exchange, clock, _ = connected
    await exchange.add_order(_request("dms"))
    await exchange.cancel_all_after(60)
    clock.advance(59)
    exchange.tick()
    assert len(await exchange.open_orders()) == 1
    clock.advance(2)
    exchange.tick()
    assert await exchange.open_orders() == []
    [closed] = await exchange.closed_orders(START)
    assert closed.status is OrderStatus.CANCELED


async def test_trades_build_one_minute_candles_closed_at_the_boundary(connected) -> None:
    exchange, clock, events = connected
    events.clear()
    await exchange.add_order(_request("t1", price=D("50010")))
    clock.advance(60)
    await exchange.add_order(_request("t2", side=Side.SELL, price=D("49990")))
    candles = [e.candle for e in events if isinstance(e, CandleEvent)]
    closed = [c for c in candles if c.closed]
    assert len(closed) == 1
    assert closed[0].close == D("50010") and closed[0].ts == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert candles[-1].close == D("49990") and not candles[-1].closed


async def test_muted_private_feed_still_answers_queries(connected) -> None:
    exchange, _, events = connected
    exchange.faults.mute_private_events = True
    events.clear()
    await exchange.add_order(_request("quiet", price=D("50010")))
    assert not any(isinstance(e, FillEvent | OrderEvent) for e in events)
    assert len(await exchange.executions_since(None)) == 1


def _quote_buy(cl_ord_id: str, amount: str) -> OrderRequest:
    return OrderRequest(
        cl_ord_id=cl_ord_id,
        symbol="BTC/USD",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        volume=D(0),
        quote_volume=D(amount),
    )


async def test_quote_buy_walks_the_asks_on_its_budget_and_reports_base_fills(connected) -> None:
    exchange, _, events = connected
    events.clear()
    ack = await exchange.add_order(_quote_buy("q1", "60000.00000"))
    fills = [e.execution for e in events if isinstance(e, FillEvent)]
    second = (D(60_000) - D(50_010)) / D(50_020)
    assert [(f.price, f.qty) for f in fills] == [
        (D(50_010), D(1)),
        (D(50_020), second.quantize(D("0.00000001"), rounding="ROUND_DOWN")),
    ]
    assert all(f.cl_ord_id == "q1" and f.order_id == ack.order_id for f in fills)
    assert sum(f.price * f.qty for f in fills) <= D(60_000)
    final = [e.update for e in events if isinstance(e, OrderEvent)][-1]
    assert final.status is OrderStatus.FILLED and final.filled == sum(f.qty for f in fills)
    assert final.order is not None and final.order.quote_volume == D(60_000)
    assert final.order.volume == D(0) and final.order.remaining == D(0)
    found = await exchange.lookup_order("q1")
    assert found is not None and found.status is OrderStatus.FILLED
    assert (found.quote_volume, found.volume, found.filled) == (D(60_000), D(0), final.filled)
    [closed] = await exchange.closed_orders()
    assert closed.quote_volume == D(60_000) and closed.filled == final.filled


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("99900.00000", "EOrder:Insufficient funds"),
        ("1.00000", "EOrder:Order minimum not met"),
        ("0.10000", "EOrder:Cost minimum not met"),
        ("500.000001", "EGeneral:Invalid arguments:volume"),
    ],
)
async def test_quote_buy_refusal_carries_krakens_error_string(
    connected, amount: str, error: str
) -> None:
    exchange, _, events = connected
    events.clear()
    with pytest.raises(OrderRejected) as info:
        await exchange.add_order(_quote_buy("q-refused", amount))
    assert info.value.kraken_error == error
    assert await exchange.lookup_order("q-refused") is None
    assert not any(isinstance(e, FillEvent | OrderEvent) for e in events)
