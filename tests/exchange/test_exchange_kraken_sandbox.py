"""KrakenExchange against the real sandbox over real sockets, through the unmodified SDK:
books that match the exchange's own, orders and fills, Kraken's errors, the sandbox's fault
injection (5xx, rate limits, corrupt checksums, dropped WebSockets) and nonces."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from exchange_session import connected, eventually
from loguru import logger
from sandbox_harness import running_sandbox

from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.exchange.kraken import KrakenExchange
from kraken_tui.exchange.protocol import (
    BookChanged,
    ExchangeEvent,
    FillEvent,
    OrderEvent,
    OrderRejected,
    OutcomeUnknown,
)
from kraken_tui.exchange.ratelimit import Tier
from kraken_tui.sandbox.ratelimits import Tier as SandboxTier
from kraken_tui.sandbox.server import SandboxServer


def _books_equal(exchange: KrakenExchange, sandbox: SandboxServer, symbol: str) -> bool:
    ours = exchange.book(symbol)
    if ours is None or ours.stale:
        return False
    theirs = sandbox.venue.book(symbol, 10)
    return [(lvl.price, lvl.qty) for lvl in ours.bids] == list(theirs.bids) and [
        (lvl.price, lvl.qty) for lvl in ours.asks
    ] == list(theirs.asks)


async def _settled_books_equal(exchange: KrakenExchange, sandbox: SandboxServer) -> None:
    """Pause the market, let the last messages arrive, then compare with the venue's books."""
    market, sandbox.market = sandbox.market, None
    try:
        for symbol in ("BTC/USD", "ETH/USD"):
            await eventually(lambda s=symbol: _books_equal(exchange, sandbox, s))
    finally:
        sandbox.market = market


def _request(
    side: Side, volume: str, order_type: OrderType = OrderType.MARKET, **kw: Any
) -> OrderRequest:
    return OrderRequest(
        cl_ord_id=uuid.uuid4().hex[:18],
        symbol="BTC/USD",
        side=side,
        order_type=order_type,
        volume=Decimal(volume),
        **kw,
    )


def _fills(events: list[ExchangeEvent]) -> list[str]:
    return [e.execution.exec_id for e in events if isinstance(e, FillEvent)]


async def test_books_built_from_the_feed_equal_the_exchange_books() -> None:
    async with running_sandbox(rate=500) as sandbox, connected(sandbox) as (exchange, _):
        await exchange.subscribe_market(["BTC/USD", "ETH/USD"], depth=10)
        await asyncio.sleep(2.0)
        await _settled_books_equal(exchange, sandbox)
        assert set(exchange.instruments) >= {"BTC/USD", "ETH/USD", "SOL/USD", "ETH/BTC"}


async def test_market_order_fills_exactly_once_and_is_found_by_its_cl_ord_id() -> None:
    async with running_sandbox(rate=100) as sandbox, connected(sandbox) as (exchange, events):
        request = _request(Side.BUY, "0.01")
        ack = await exchange.add_order(request)
        await eventually(
            lambda: any(
                isinstance(e, OrderEvent) and e.update.status is OrderStatus.FILLED for e in events
            )
        )
        assert len(_fills(events)) == 1
        found = await exchange.lookup_order(request.cl_ord_id)
        assert found is not None and found.order_id == ack.order_id
        assert found.status is OrderStatus.FILLED and found.filled == Decimal("0.01")
        assert [f.exec_id for f in await exchange.executions_since()] == _fills(events)


async def test_refusals_carry_krakens_error_string() -> None:
    async with running_sandbox(rate=0) as sandbox, connected(sandbox) as (exchange, _):
        with pytest.raises(OrderRejected) as funds:
            await exchange.add_order(
                _request(Side.BUY, "100", OrderType.LIMIT, price=Decimal("90000.0"))
            )
        assert funds.value.kraken_error == "EOrder:Insufficient funds"
        with pytest.raises(OrderRejected) as minimum:
            await exchange.add_order(_request(Side.BUY, "0.00000100"))
        assert minimum.value.kraken_error == "EOrder:Order minimum not met"
        with pytest.raises(OrderRejected) as tick:
            await exchange.add_order(
                _request(Side.BUY, "0.01", OrderType.LIMIT, price=Decimal("90000.05"))
            )
        assert tick.value.kraken_error == "EOrder:Tick size check failed"


async def test_cancelling_an_unknown_order_is_a_warning_not_a_crash() -> None:
    async with running_sandbox(rate=0) as sandbox, connected(sandbox) as (exchange, _):
        assert await exchange.cancel_order(order_id="OAAAAA-BBBBB-CCCCCC") is False


async def test_resting_order_is_cancelled_and_reported() -> None:
    async with running_sandbox(rate=0) as sandbox, connected(sandbox) as (exchange, events):
        request = _request(Side.BUY, "0.01", OrderType.LIMIT, price=Decimal("1000.0"))
        await exchange.add_order(request)
        assert [o.cl_ord_id for o in await exchange.open_orders()] == [request.cl_ord_id]
        assert await exchange.cancel_order(cl_ord_id=request.cl_ord_id) is True
        await eventually(
            lambda: any(
                isinstance(e, OrderEvent)
                and e.update.cl_ord_id == request.cl_ord_id
                and e.update.status is OrderStatus.CANCELED
                for e in events
            )
        )
        assert await exchange.open_orders() == []


async def _set_faults(sandbox: SandboxServer, **faults: Any) -> None:
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{sandbox.rest_url}/_sandbox/faults", json=faults)
        assert response.status == 200, await response.text()


async def test_add_order_answered_with_5xx_is_outcome_unknown_and_lookup_resolves_it() -> None:
    async with running_sandbox(rate=0) as sandbox, connected(sandbox) as (exchange, _):
        await _set_faults(sandbox, rest_5xx=1)
        request = _request(Side.BUY, "0.01")
        with pytest.raises(OutcomeUnknown):
            await exchange.add_order(request)
        assert await exchange.lookup_order(request.cl_ord_id) is None


async def test_queries_ride_out_5xx_and_rate_limit_answers() -> None:
    async with running_sandbox(rate=0) as sandbox, connected(sandbox) as (exchange, _):
        await _set_faults(sandbox, rest_5xx=2)
        assert "USD" in await exchange.balances()
        await _set_faults(sandbox, rate_limit=1)
        assert await exchange.open_orders() == []


async def test_corrupt_checksum_resyncs_only_that_symbol() -> None:
    async with running_sandbox(rate=300) as sandbox, connected(sandbox) as (exchange, events):
        await exchange.subscribe_market(["BTC/USD", "ETH/USD"], depth=10)
        await eventually(
            lambda: all(
                exchange.book(s) and not exchange.book(s).stale for s in ("BTC/USD", "ETH/USD")
            )
        )
        start = len(events)
        await _set_faults(sandbox, corrupt_checksums=1)
        await eventually(
            lambda: any(isinstance(e, BookChanged) and e.stale for e in events[start:])
        )
        stale = {e.symbol for e in events[start:] if isinstance(e, BookChanged) and e.stale}
        assert len(stale) == 1
        (symbol,) = stale
        await eventually(lambda: not exchange.book(symbol).stale)
        await _settled_books_equal(exchange, sandbox)


async def test_fills_while_the_websockets_are_down_arrive_exactly_once() -> None:
    async with running_sandbox(rate=200) as sandbox, connected(sandbox) as (exchange, events):
        await exchange.subscribe_market(["BTC/USD", "ETH/USD"], depth=10)
        await asyncio.sleep(1.0)
        await exchange.add_order(_request(Side.BUY, "0.01"))
        await eventually(lambda: len(_fills(events)) == 1)
        await _set_faults(sandbox, drop_ws="all")
        # These fill while our streams are reconnecting (the SDK waits >= 1 s first).
        await exchange.add_order(_request(Side.BUY, "0.01"))
        await exchange.add_order(_request(Side.SELL, "0.01"))
        await eventually(lambda: len(_fills(events)) == 3, within=30)
        await asyncio.sleep(2.0)  # the reconciliation and snapshots must not add duplicates
        fills = _fills(events)
        assert len(fills) == len(set(fills)) == 3
        assert sorted(fills) == sorted(f.exec_id for f in await exchange.executions_since())
        await _settled_books_equal(exchange, sandbox)


async def test_nonces_keep_increasing_across_restarts(tmp_path: Path) -> None:
    nonce_path = tmp_path / "nonce"
    async with running_sandbox(rate=0) as sandbox:
        async with connected(sandbox, nonce_path=nonce_path) as (exchange, _):
            await exchange.balances()
        first = int(nonce_path.read_text().strip())
        nonce_path.write_text(str(first + 10**12))  # as if the wall clock had gone backwards
        async with connected(sandbox, nonce_path=nonce_path) as (exchange, _):
            assert "USD" in await exchange.balances()
        assert int(nonce_path.read_text().strip()) > first + 10**12


@pytest.mark.slow
async def test_sixty_seconds_of_orders_as_fast_as_allowed_see_no_rate_limit_error() -> None:
    refusals: list[str] = []
    sink = logger.add(
        lambda m: refusals.append(str(m)),
        filter=lambda r: "Rate limit exceeded" in r["message"],
        level="WARNING",
    )
    try:
        async with (
            running_sandbox(rate=20, tier=SandboxTier.STARTER) as sandbox,
            connected(sandbox, tier=Tier.STARTER) as (exchange, _),
        ):
            placed = 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                request = _request(Side.BUY, "0.001", OrderType.LIMIT, price=Decimal("1000.0"))
                await exchange.add_order(request)
                await exchange.cancel_order(cl_ord_id=request.cl_ord_id)
                placed += 1
                if placed % 10 == 0:
                    await exchange.open_orders()
    finally:
        logger.remove(sink)
    assert placed >= 10  # Starter allows ~14 add+cancel pairs of young orders a minute
    assert refusals == []
