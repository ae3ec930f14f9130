"""One contract for both exchanges the engine runs on: the same scenarios against
`SimulatedExchange` (the engine tests' in-process double) and against `KrakenExchange`
connected to the real sandbox over real sockets.

Both stand on the same sandbox venue, seeded with the same quotes (bids 49,990, 49,980, ...;
asks 50,010, 50,020, ... one BTC each) for the same funded account, so every answer can be
compared exactly. Events are awaited, never assumed synchronous: the double reports them
during the call, the adapter when the WebSocket delivers them. Where the two differ, the
adapter on the sandbox is the reference and the double is fixed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

import pytest
from exchange_session import connected, eventually
from sandbox_harness import running_sandbox
from simulated_exchange import SimulatedExchange

from kraken_tui.clock import WallClock
from kraken_tui.domain import (
    ConnectionState,
    Execution,
    Liquidity,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from kraken_tui.exchange.protocol import (
    Exchange,
    ExchangeEvent,
    FillEvent,
    OrderEntryHalted,
    OrderEvent,
    OrderRejected,
    OrderUpdate,
    UnknownOrder,
)
from kraken_tui.sandbox.venue import SandboxVenue

D = Decimal
MID = 50_000


@dataclass(frozen=True, slots=True)
class ExchangeUnderTest:
    """An exchange connected to a seeded venue, what it reported, and the two faults the
    contract injects, each the way its kind of exchange meets it."""

    exchange: Exchange
    events: list[ExchangeEvent]
    venue: SandboxVenue
    drop_private_feed: Callable[[], None]
    rate_limit_next: Callable[[int], None]


def _seed_quotes(venue: SandboxVenue, levels: int = 5) -> None:
    for n in range(1, levels + 1):
        venue.place_synthetic("BTC/USD", Side.BUY, D(MID - 10 * n), D(1))
        venue.place_synthetic("BTC/USD", Side.SELL, D(MID + 10 * n), D(1))


@asynccontextmanager
async def _simulated() -> AsyncIterator[ExchangeUnderTest]:
    exchange = SimulatedExchange.create(WallClock())
    events: list[ExchangeEvent] = []
    exchange.set_event_handler(events.append)
    await exchange.connect()
    _seed_quotes(exchange.venue)

    def rate_limit_next(count: int) -> None:
        exchange.faults.rate_limit = count

    try:
        yield ExchangeUnderTest(
            exchange, events, exchange.venue, exchange.drop_private_feed, rate_limit_next
        )
    finally:
        await exchange.close()


@asynccontextmanager
async def _kraken_on_sandbox() -> AsyncIterator[ExchangeUnderTest]:
    async with running_sandbox(rate=0) as sandbox, connected(sandbox) as (exchange, events):
        _seed_quotes(sandbox.venue)
        yield ExchangeUnderTest(
            exchange,
            events,
            sandbox.venue,
            lambda: sandbox.faults.apply({"drop_ws": "private"}),
            lambda count: sandbox.faults.apply({"rate_limit": count}),
        )


EXCHANGES = {"simulated": _simulated, "kraken_on_sandbox": _kraken_on_sandbox}


@pytest.fixture(params=list(EXCHANGES))
async def under_test(request: pytest.FixtureRequest) -> AsyncIterator[ExchangeUnderTest]:
    async with EXCHANGES[request.param]() as subject:
        yield subject


def _request(
    side: Side, volume: str, price: str | None = None, symbol: str = "BTC/USD"
) -> OrderRequest:
    """A market order, or a limit order at `price`."""
    return OrderRequest(
        cl_ord_id=uuid.uuid4().hex[:18],
        symbol=symbol,
        side=side,
        order_type=OrderType.MARKET if price is None else OrderType.LIMIT,
        volume=D(volume),
        price=None if price is None else D(price),
    )


def _resting_bid() -> OrderRequest:
    return _request(Side.BUY, "0.01", "49000")


def _updates(events: list[ExchangeEvent], cl_ord_id: str) -> list[OrderUpdate]:
    return [
        e.update for e in events if isinstance(e, OrderEvent) and e.update.cl_ord_id == cl_ord_id
    ]


def _reported(events: list[ExchangeEvent], cl_ord_id: str, status: OrderStatus) -> bool:
    return any(update.status is status for update in _updates(events, cl_ord_id))


def _fills(events: list[ExchangeEvent]) -> list[Execution]:
    return [e.execution for e in events if isinstance(e, FillEvent)]


def _fill_facts(fill: Execution) -> tuple[object, ...]:
    """What the feed and the history agree on (the history's timestamps are rounded and it
    does not name our `cl_ord_id`)."""
    return (
        fill.exec_id,
        fill.order_id,
        fill.symbol,
        fill.side,
        fill.price,
        fill.qty,
        fill.fee,
        fill.fee_ccy,
        fill.liquidity,
    )


async def test_placed_order_is_acknowledged_reported_new_and_listed_open(
    under_test: ExchangeUnderTest,
) -> None:
    exchange, events = under_test.exchange, under_test.events
    request = _resting_bid()
    ack = await exchange.add_order(request)
    assert ack.cl_ord_id == request.cl_ord_id and ack.order_id
    await eventually(lambda: _reported(events, request.cl_ord_id, OrderStatus.NEW))
    assert {u.order_id for u in _updates(events, request.cl_ord_id)} == {ack.order_id}
    [listed] = await exchange.open_orders()
    assert (listed.cl_ord_id, listed.order_id, listed.status) == (
        request.cl_ord_id,
        ack.order_id,
        OrderStatus.NEW,
    )
    assert (listed.volume, listed.price, listed.filled) == (D("0.01"), D(49_000), 0)
    found = await exchange.lookup_order(request.cl_ord_id)
    assert found is not None and found.order_id == ack.order_id


async def test_market_order_fills_once_and_the_history_lists_that_fill(
    under_test: ExchangeUnderTest,
) -> None:
    exchange, events = under_test.exchange, under_test.events
    request = _request(Side.BUY, "0.01")
    ack = await exchange.add_order(request)
    await eventually(lambda: _reported(events, request.cl_ord_id, OrderStatus.FILLED))
    await asyncio.sleep(0.3)  # a second report of the fill would arrive meanwhile
    [fill] = _fills(events)
    assert (fill.order_id, fill.cl_ord_id) == (ack.order_id, request.cl_ord_id)
    assert (fill.price, fill.qty, fill.liquidity, fill.fee_ccy) == (
        D(50_010),
        D("0.01"),
        Liquidity.TAKER,
        "USD",
    )
    assert fill.fee > 0
    assert [_fill_facts(f) for f in await exchange.executions_since()] == [_fill_facts(fill)]
    found = await exchange.lookup_order(request.cl_ord_id)
    assert found is not None
    assert (found.status, found.filled, found.avg_price) == (
        OrderStatus.FILLED,
        D("0.01"),
        D(50_010),
    )


async def test_order_larger_than_the_best_level_fills_partly_and_rests_the_rest(
    under_test: ExchangeUnderTest,
) -> None:
    exchange, events = under_test.exchange, under_test.events
    request = _request(Side.BUY, "1.5", "50010")
    ack = await exchange.add_order(request)
    await eventually(lambda: _reported(events, request.cl_ord_id, OrderStatus.PARTIALLY_FILLED))
    partial = next(
        u for u in _updates(events, request.cl_ord_id) if u.status is OrderStatus.PARTIALLY_FILLED
    )
    assert (partial.order_id, partial.filled) == (ack.order_id, D(1))
    assert [(f.price, f.qty) for f in _fills(events)] == [(D(50_010), D(1))]
    [resting] = await exchange.open_orders()
    assert (resting.status, resting.filled, resting.remaining) == (
        OrderStatus.PARTIALLY_FILLED,
        D(1),
        D("0.5"),
    )
    assert await exchange.cancel_order(cl_ord_id=request.cl_ord_id) is True
    found = await exchange.lookup_order(request.cl_ord_id)
    assert found is not None and (found.status, found.filled) == (OrderStatus.CANCELED, D(1))


async def test_cancelled_order_is_reported_cancelled_and_leaves_the_open_orders(
    under_test: ExchangeUnderTest,
) -> None:
    exchange, events = under_test.exchange, under_test.events
    request = _resting_bid()
    await exchange.add_order(request)
    assert await exchange.cancel_order(cl_ord_id=request.cl_ord_id) is True
    await eventually(lambda: _reported(events, request.cl_ord_id, OrderStatus.CANCELED))
    assert await exchange.open_orders() == []
    found = await exchange.lookup_order(request.cl_ord_id)
    assert found is not None and found.status is OrderStatus.CANCELED


async def test_cancel_all_cancels_every_open_order_and_counts_them(
    under_test: ExchangeUnderTest,
) -> None:
    exchange, events = under_test.exchange, under_test.events
    requests = [_resting_bid(), _request(Side.SELL, "0.01", "51000")]
    for request in requests:
        await exchange.add_order(request)
    assert await exchange.cancel_all() == 2
    await eventually(
        lambda: all(_reported(events, r.cl_ord_id, OrderStatus.CANCELED) for r in requests)
    )
    assert await exchange.open_orders() == []
    assert await exchange.cancel_all() == 0


async def test_unknown_order_cannot_be_cancelled_amended_or_found(
    under_test: ExchangeUnderTest,
) -> None:
    exchange = under_test.exchange
    assert await exchange.cancel_order(order_id="OAAAAA-BBBBB-CCCCCC") is False
    assert await exchange.cancel_order(cl_ord_id="never-sent") is False
    with pytest.raises(UnknownOrder) as amend:
        await exchange.amend_order(cl_ord_id="never-sent", price=D(49_500))
    assert amend.value.kraken_error == "EOrder:Unknown order"
    assert await exchange.lookup_order("never-sent") is None


async def test_refusals_carry_krakens_error_string_and_place_nothing(
    under_test: ExchangeUnderTest,
) -> None:
    exchange = under_test.exchange
    refused = {
        "EOrder:Insufficient funds": _request(Side.BUY, "100", "49000"),
        "EOrder:Order minimum not met": _request(Side.BUY, "0.000001"),
        "EOrder:Tick size check failed": _request(Side.BUY, "0.01", "49000.05"),
        "EQuery:Unknown asset pair": _request(Side.BUY, "0.01", symbol="XXX/USD"),
    }
    for error, request in refused.items():
        with pytest.raises(OrderRejected) as info:
            await exchange.add_order(request)
        assert info.value.kraken_error == error
    assert await exchange.open_orders() == []
    assert await exchange.closed_orders() == []


async def test_fills_missed_while_the_private_feed_is_down_arrive_once_after_reconnecting(
    under_test: ExchangeUnderTest,
) -> None:
    exchange, events = under_test.exchange, under_test.events
    await exchange.add_order(_request(Side.BUY, "0.01"))
    await eventually(lambda: len(_fills(events)) == 1)
    resting = _request(Side.BUY, "0.01", "49995")  # the best bid: the next seller meets it
    await exchange.add_order(resting)
    await eventually(lambda: _reported(events, resting.cl_ord_id, OrderStatus.NEW))
    dropped_at = len(events)
    under_test.drop_private_feed()
    missed = _request(Side.BUY, "0.01")
    await exchange.add_order(missed)  # orders still go out over REST while the feed is away
    under_test.venue.take_synthetic("BTC/USD", Side.SELL, D("0.01"), limit_price=D(49_995))

    await eventually(lambda: len(_fills(events)) == 3, within=30)
    await eventually(lambda: exchange.connection.state is ConnectionState.CONNECTED)
    await asyncio.sleep(1.0)  # snapshots and reconciliation must not add duplicates
    fills = [f.exec_id for f in _fills(events)]
    assert len(fills) == len(set(fills)) == 3
    assert sorted(fills) == sorted(f.exec_id for f in await exchange.executions_since())
    after_drop = events[dropped_at:]
    assert _reported(after_drop, missed.cl_ord_id, OrderStatus.FILLED)
    assert _reported(after_drop, resting.cl_ord_id, OrderStatus.FILLED)


async def test_rate_limited_requests_are_retried_and_the_order_placed_once(
    under_test: ExchangeUnderTest,
) -> None:
    exchange = under_test.exchange
    under_test.rate_limit_next(1)
    request = _resting_bid()
    ack = await exchange.add_order(request)
    assert [o.order_id for o in await exchange.open_orders()] == [ack.order_id]
    under_test.rate_limit_next(1)
    assert [o.cl_ord_id for o in await exchange.open_orders()] == [request.cl_ord_id]


async def test_halted_order_entry_refuses_adds_and_amends_while_cancels_pass(
    under_test: ExchangeUnderTest,
) -> None:
    exchange = under_test.exchange
    first, second = _resting_bid(), _resting_bid()
    await exchange.add_order(first)
    await exchange.add_order(second)
    exchange.halt_order_entry("kill switch: test")
    with pytest.raises(OrderEntryHalted) as refused:
        await exchange.add_order(_resting_bid())
    assert "kill switch: test" in (refused.value.kraken_error or "")
    with pytest.raises(OrderEntryHalted):
        await exchange.amend_order(cl_ord_id=first.cl_ord_id, price=D(48_000))
    assert await exchange.cancel_order(cl_ord_id=first.cl_ord_id) is True
    assert await exchange.cancel_all() == 1
    assert await exchange.open_orders() == []

    exchange.resume_order_entry()
    ack = await exchange.add_order(_resting_bid())
    assert [o.order_id for o in await exchange.open_orders()] == [ack.order_id]
