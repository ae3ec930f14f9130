"""The kill switch's path through the adapter, against the real sandbox over real sockets:
order entry halted in the process (requests already waiting for the rate limiter or the
connection are refused at once, nothing leaves afterwards), and CancelAll sent ahead of a
full REST counter and of the queue for the connection."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import pytest
from exchange_session import connected
from sandbox_harness import running_sandbox

from kraken_tui.domain import OrderRequest, OrderType, Side
from kraken_tui.exchange.priority_lock import PriorityLock
from kraken_tui.exchange.protocol import OrderAck, OrderEntryHalted
from kraken_tui.exchange.ratelimit import REST_LIMITS, TRADE_LIMITS, Tier

FLOOD = 80
"""More adds than the starter tier's trading counter (60, headroom 2) lets out at once."""


def _resting_bid(price: str = "1000.0") -> OrderRequest:
    return OrderRequest(
        cl_ord_id=uuid.uuid4().hex,
        symbol="BTC/USD",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        volume=Decimal("0.001"),
        price=Decimal(price),
    )


async def test_halt_refuses_queued_orders_at_once_and_nothing_leaves_afterwards() -> None:
    assert TRADE_LIMITS[Tier.STARTER].maximum < FLOOD
    async with (
        running_sandbox(rate=0) as sandbox,
        connected(sandbox, tier=Tier.STARTER) as (exchange, _),
    ):
        flood = [asyncio.ensure_future(exchange.add_order(_resting_bid())) for _ in range(FLOOD)]
        await asyncio.sleep(0.3)
        exchange.halt_order_entry("kill switch: test")
        halted_at = time.monotonic()
        outcomes = await asyncio.gather(*flood, return_exceptions=True)
        settled_in = time.monotonic() - halted_at

        acked = [o for o in outcomes if isinstance(o, OrderAck)]
        refused = [o for o in outcomes if isinstance(o, OrderEntryHalted)]
        assert len(acked) + len(refused) == FLOOD, [o for o in outcomes if o not in acked]
        assert refused, "every add left before the halt: nothing was queued"
        assert all("kill switch: test" in (r.kraken_error or "") for r in refused)
        assert settled_in < 0.5, f"queued requests took {settled_in:.2f}s to be refused"
        on_exchange = {o.order_id for o in await exchange.open_orders()}
        assert on_exchange == {a.order_id for a in acked}

        with pytest.raises(OrderEntryHalted):
            await exchange.add_order(_resting_bid())
        assert await exchange.cancel_all() == len(acked)
        assert await exchange.open_orders() == []

        exchange.resume_order_entry()
        ack = await exchange.add_order(_resting_bid())
        assert [o.order_id for o in await exchange.open_orders()] == [ack.order_id]


async def test_cancel_all_is_sent_at_once_while_queries_wait_for_a_full_rest_counter() -> None:
    async with (
        running_sandbox(rate=0) as sandbox,
        connected(sandbox, tier=Tier.STARTER) as (exchange, _),
    ):
        await exchange.add_order(_resting_bid())
        limits = REST_LIMITS[Tier.STARTER]
        queries = [
            asyncio.ensure_future(exchange.open_orders()) for _ in range(int(limits.maximum) + 4)
        ]
        await asyncio.sleep(0.3)  # the counter is at our ceiling, the rest of them wait
        assert sum(q.done() for q in queries) < len(queries)
        before = exchange.rate_limits.rest_counter

        started = time.monotonic()
        cancelled = await exchange.cancel_all()
        took = time.monotonic() - started

        assert cancelled == 1
        assert took < 1.0, f"CancelAll waited {took:.2f}s behind the queries"
        assert exchange.rate_limits.rest_counter > before, "CancelAll was not charged"
        assert not all(q.done() for q in queries), "the queries did not wait: nothing proved"
        for query in queries:
            query.cancel()
        await asyncio.gather(*queries, return_exceptions=True)


async def test_priority_lock_serves_urgent_waiters_first_and_survives_cancelled_ones() -> None:
    lock = PriorityLock()
    order: list[str] = []
    release = asyncio.Event()

    async def hold(name: str, *, urgent: bool = False, until: asyncio.Event | None = None) -> None:
        async with lock.hold(urgent=urgent):
            order.append(name)
            if until is not None:
                await until.wait()

    first = asyncio.ensure_future(hold("first", until=release))
    await asyncio.sleep(0)
    waiters = [asyncio.ensure_future(hold(f"ordinary{i}")) for i in range(3)]
    doomed = asyncio.ensure_future(hold("doomed", urgent=True))
    urgent = asyncio.ensure_future(hold("urgent", urgent=True))
    await asyncio.sleep(0)
    doomed.cancel()
    release.set()
    await asyncio.gather(first, *waiters, urgent)
    assert order == ["first", "urgent", "ordinary0", "ordinary1", "ordinary2"]
    assert not lock.locked()
