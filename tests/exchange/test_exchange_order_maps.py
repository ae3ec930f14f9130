"""The adapter keeps per-order bookkeeping (each order's pair for the trading counter, its
age for the cancel penalty) only while the order lives: a session that trades all day must
not grow with every order it ever placed. Read through the adapter's private maps, as nothing
else shows them."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from exchange_session import connected, eventually
from sandbox_harness import running_sandbox

from kraken_tui.domain import OrderRequest, OrderType, Side
from kraken_tui.exchange.protocol import ExchangeEvent, OrderEvent, OrderRejected


def _order(order_type: OrderType, volume: str, price: str | None = None) -> OrderRequest:
    return OrderRequest(
        cl_ord_id=uuid.uuid4().hex,
        symbol="BTC/USD",
        side=Side.BUY,
        order_type=order_type,
        volume=Decimal(volume),
        price=None if price is None else Decimal(price),
    )


def _ended(events: list[ExchangeEvent], cl_ord_id: str) -> bool:
    return any(
        isinstance(e, OrderEvent) and e.update.cl_ord_id == cl_ord_id and e.update.status.is_final
        for e in events
    )


async def test_ended_orders_leave_no_bookkeeping_behind() -> None:
    async with running_sandbox(rate=0) as sandbox, connected(sandbox) as (exchange, events):
        resting = _order(OrderType.LIMIT, "0.01", "1000.0")
        ack = await exchange.add_order(resting)
        assert exchange._order_pairs.keys() >= {resting.cl_ord_id, ack.order_id}
        assert resting.cl_ord_id in exchange._placed_at

        filled = _order(OrderType.MARKET, "0.001")
        await exchange.add_order(filled)
        assert await exchange.cancel_order(cl_ord_id=resting.cl_ord_id)
        with pytest.raises(OrderRejected):
            await exchange.add_order(_order(OrderType.LIMIT, "100", "90000.0"))  # no funds

        await eventually(
            lambda: _ended(events, resting.cl_ord_id) and _ended(events, filled.cl_ord_id)
        )
        assert exchange._order_pairs == {}
        assert exchange._placed_at == {}
