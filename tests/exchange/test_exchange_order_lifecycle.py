"""KrakenExchange against the real sandbox with Kraken's order lifecycle: sparse
`executions` items (docs.kraken.com/api/docs/websocket-v2/executions: "the fields included
... depend on the exec_type"; krakenfx/kraken-api-sdk rust/src/api/account/ws_types.rs
tests: a `new` with only ids, status and time, an unknown exec_type that must not break
decoding), a post-only order Kraken accepts and then cancels ("Post only order")."""

from __future__ import annotations

import uuid
from decimal import Decimal

from exchange_session import connected, eventually
from loguru import logger
from sandbox_harness import running_sandbox

from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.exchange.protocol import ExchangeEvent, OrderEvent, OrderUpdate
from kraken_tui.sandbox.auth import DEV_API_KEY


def _updates(events: list[ExchangeEvent], order_id: str) -> list[OrderUpdate]:
    return [e.update for e in events if isinstance(e, OrderEvent) and e.update.order_id == order_id]


async def test_post_only_order_that_would_cross_ends_canceled_with_krakens_reason() -> None:
    async with running_sandbox(rate=0) as sandbox, connected(sandbox) as (exchange, events):
        sandbox.venue.place_synthetic("BTC/USD", Side.SELL, Decimal("60000.0"), Decimal("1"))
        request = OrderRequest(
            cl_ord_id=uuid.uuid4().hex,
            symbol="BTC/USD",
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            volume=Decimal("0.01"),
            price=Decimal("60000.0"),
            post_only=True,
        )
        ack = await exchange.add_order(request)  # accepted: a txid, no error
        await eventually(
            lambda: any(u.status is OrderStatus.CANCELED for u in _updates(events, ack.order_id))
        )
        final = _updates(events, ack.order_id)[-1]
        assert (final.status, final.reason) == (OrderStatus.CANCELED, "Post only order")
        found = await exchange.lookup_order(request.cl_ord_id)
        assert found is not None and found.reason == "Post only order"


async def test_orders_ask_kraken_for_fees_in_quote_so_rest_and_ws_fees_agree() -> None:
    async with running_sandbox(rate=0) as sandbox, connected(sandbox) as (exchange, _):
        sandbox.venue.place_synthetic("BTC/USD", Side.BUY, Decimal("60000.0"), Decimal("1"))
        request = OrderRequest(
            cl_ord_id=uuid.uuid4().hex,
            symbol="BTC/USD",
            side=Side.SELL,
            order_type=OrderType.MARKET,
            volume=Decimal("0.1"),
        )
        ack = await exchange.add_order(request)
        (order,) = sandbox.venue.query_orders(DEV_API_KEY, [ack.order_id])
        assert order.fee_in_base is False
        (fill,) = [f for f in await exchange.executions_since() if f.order_id == ack.order_id]
        assert (fill.fee, fill.fee_ccy) == (Decimal("24.00000"), "USD")


async def test_sparse_item_about_an_order_placed_elsewhere_is_completed_by_query_orders() -> None:
    async with running_sandbox(rate=0) as sandbox:
        # placed and canceled by another client before we connect: not in our snapshot
        placed = sandbox.venue.add_order(
            DEV_API_KEY,
            pair="BTC/USD",
            side="buy",
            order_type="limit",
            volume="0.01",
            price="40000.0",
        )
        assert placed.txid is not None
        sandbox.venue.cancel_order(DEV_API_KEY, txid=placed.txid)
        async with connected(sandbox) as (exchange, events):
            # a sparse `canceled` as Kraken sends it (official SDK's test payload)
            exchange._on_private(
                {
                    "channel": "executions",
                    "type": "update",
                    "data": [
                        {
                            "exec_type": "canceled",
                            "order_id": placed.txid,
                            "order_status": "canceled",
                            "cancel_reason": "User requested",
                            "reason": "User requested",
                            "avg_price": 0,
                            "cum_cost": 0,
                            "cum_qty": 0,
                            "fee_usd_equiv": 0,
                            "timestamp": "2026-06-06T10:01:00Z",
                        }
                    ],
                }
            )
            await eventually(
                lambda: any(u.exec_type == "queried" for u in _updates(events, placed.txid))
            )
            described = _updates(events, placed.txid)[-1]
            assert described.order is not None and described.status is OrderStatus.CANCELED
            assert (described.order.side, described.order.volume, described.order.price) == (
                Side.BUY,
                Decimal("0.01"),
                Decimal("40000.0"),
            )


async def test_unknown_exec_type_is_logged_and_skipped() -> None:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO")
    try:
        async with running_sandbox(rate=0) as sandbox, connected(sandbox) as (exchange, events):
            before = len(events)
            exchange._on_private(
                {
                    "channel": "executions",
                    "type": "update",
                    "data": [{"exec_type": "some_future_event_type", "order_id": "OXYZ"}],
                }
            )
            assert not any(isinstance(e, OrderEvent) for e in events[before:])
    finally:
        logger.remove(sink)
    assert any("some_future_event_type" in line and "OXYZ" in line for line in lines)
