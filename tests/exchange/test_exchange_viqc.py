"""Quote-sized market buys (Kraken's `viqc`) through KrakenExchange: the AddOrder it sends, how
REST order entries and WS `executions` items sized in quote are read (malformed ones skipped
whole), and the round trip against the real sandbox over real sockets with the SDK."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from decimal import Decimal
from typing import Any

import pytest
from exchange_session import connected, eventually
from hypothesis import given, settings
from hypothesis import strategies as st
from sandbox_harness import running_sandbox

from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.domain.money import ZERO
from kraken_tui.exchange import kraken_parse as parse
from kraken_tui.exchange.kraken import KrakenEndpoints, KrakenExchange
from kraken_tui.exchange.protocol import (
    ExchangeEvent,
    FillEvent,
    OrderEvent,
    OrderRejected,
    OrderUpdate,
)
from kraken_tui.exchange.ratelimit import Tier
from kraken_tui.sandbox.pairs import PairRegistry

D = Decimal
BTC = PairRegistry().resolve("BTC/USD").to_instrument()
"""The sandbox's copy of Kraken's listing: 5 quote decimals, 0.40% first-tier taker fee."""


def _offline_exchange() -> tuple[KrakenExchange, list[ExchangeEvent]]:
    """A real adapter with BTC/USD loaded, pointed at a port nothing listens on: anything it
    tries to send fails, so a refusal seen here was decided before sending."""
    exchange = KrakenExchange(KrakenEndpoints("http://127.0.0.1:9", "ws://127.0.0.1:9", "ws://x"))
    events: list[ExchangeEvent] = []
    exchange.set_event_handler(events.append)
    exchange._registry.add(BTC)
    exchange._instruments[BTC.symbol] = BTC
    return exchange, events


def _quote_request(amount: str, cl_ord_id: str | None = None) -> OrderRequest:
    return OrderRequest(
        cl_ord_id=cl_ord_id or uuid.uuid4().hex[:18],
        symbol="BTC/USD",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        volume=ZERO,
        quote_volume=D(amount),
    )


# -- REST entries ---------------------------------------------------------------------------


def _rest_entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "status": "closed",
        "cl_ord_id": "kt-q1",
        "opentm": 1764064800.5,
        "closetm": 1764064800.6,
        "vol": "500.00000",
        "vol_exec": "0.00999800",
        "cost": "499.99",
        "fee": "2.0",
        "price": "50010.0",
        "descr": {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "price": "0"},
        "oflags": "fciq,viqc",
    }
    entry.update(changes)
    return entry


def test_rest_viqc_entry_is_a_quote_sized_order_whose_fills_count_base() -> None:
    exchange, _ = _offline_exchange()
    order = parse.order_from_rest("OQ1", _rest_entry(), exchange._account.symbol_of)
    assert order.quote_volume == D("500.00000")
    assert order.volume == ZERO and order.remaining == ZERO
    assert order.filled == D("0.00999800") and order.avg_price == D("50010.0")
    assert order.status is OrderStatus.FILLED and order.cl_ord_id == "kt-q1"
    assert (order.side, order.order_type, order.post_only) == (Side.BUY, OrderType.MARKET, False)


def test_rest_viqc_entry_canceled_without_a_fill_stays_canceled() -> None:
    exchange, _ = _offline_exchange()
    entry = _rest_entry(status="canceled", vol_exec="0.00000000", reason="Insufficient liquidity")
    order = parse.order_from_rest("OQ2", entry, exchange._account.symbol_of)
    assert order.status is OrderStatus.CANCELED and order.reason == "Insufficient liquidity"
    assert order.quote_volume == D("500.00000") and order.filled == ZERO


def test_rest_entry_without_viqc_keeps_its_base_volume() -> None:
    exchange, _ = _offline_exchange()
    entry = _rest_entry(vol="0.01000000", vol_exec="0.01000000", oflags="fciq")
    order = parse.order_from_rest("OB1", entry, exchange._account.symbol_of)
    assert order.quote_volume is None and order.volume == D("0.01")


def test_rest_viqc_entries_with_a_bad_amount_are_skipped_and_the_others_kept() -> None:
    exchange, _ = _offline_exchange()
    without_vol = _rest_entry()
    del without_vol["vol"]
    entries = {
        "OGOOD": _rest_entry(),
        "OTEXT": _rest_entry(vol="lots"),
        "OZERO": _rest_entry(vol="0.00000"),
        "ONEG": _rest_entry(vol="-5"),
        "OLIST": _rest_entry(vol=[500]),
        "ONOVOL": without_vol,
        "OFLAGS": _rest_entry(oflags=["viqc"]),
    }
    orders = exchange._account.orders_from(entries)
    assert [o.order_id for o in orders] == ["OGOOD"]
    for order_id, entry in entries.items():
        if order_id != "OGOOD":
            with pytest.raises(parse.MalformedPayload):
                parse.order_from_rest(order_id, entry, exchange._account.symbol_of)


# -- WS executions ----------------------------------------------------------------------------


def _ws_item(exec_type: str, **changes: Any) -> dict[str, Any]:
    """As Kraken's WS v2 describes an order sized in quote: `cash_order_qty`, no `order_qty`."""
    item: dict[str, Any] = {
        "exec_type": exec_type,
        "order_id": "OQWS1-AAAAA-BBBBBB",
        "cl_ord_id": "kt-q2",
        "symbol": "BTC/USD",
        "side": "buy",
        "order_type": "market",
        "cash_order_qty": 500.0,
        "order_status": "new",
        "time_in_force": "GTC",
        "post_only": False,
        "cum_qty": 0,
        "cum_cost": 0,
        "avg_price": 0,
        "timestamp": "2026-11-25T10:00:00.000001Z",
    }
    item.update(changes)
    return item


def _trade_item(**changes: Any) -> dict[str, Any]:
    fill = {
        "order_status": "filled",
        "cum_qty": 0.009998,
        "avg_price": 50010.0,
        "last_qty": 0.009998,
        "last_price": 50010.0,
        "exec_id": "TQ1",
        "liquidity_ind": "t",
        "fees": [{"asset": "USD", "qty": 2.0}],
    }
    return _ws_item("trade", **{**fill, **changes})


def _updates(events: list[ExchangeEvent]) -> list[OrderUpdate]:
    return [e.update for e in events if isinstance(e, OrderEvent)]


@pytest.mark.parametrize("kind", ["snapshot", "update"])
def test_ws_items_with_cash_order_qty_describe_a_quote_sized_order(kind: str) -> None:
    exchange, events = _offline_exchange()
    data = [_ws_item("pending_new", order_status="pending_new"), _ws_item("new"), _trade_item()]
    exchange._on_private({"channel": "executions", "type": kind, "data": data})
    updates = _updates(events)
    assert [u.status for u in updates] == [
        OrderStatus.PENDING_NEW,
        OrderStatus.NEW,
        OrderStatus.FILLED,
    ]
    orders = [u.order for u in updates]
    assert all(o is not None and o.quote_volume == D("500.0") for o in orders)
    assert all(o is not None and o.volume == ZERO and o.remaining == ZERO for o in orders)
    filled = orders[-1]
    assert filled is not None and filled.filled == D("0.009998")
    assert filled.avg_price == D("50010.0") and not filled.external
    fills = [e.execution for e in events if isinstance(e, FillEvent)]
    assert [(f.qty, f.price, f.fee, f.cl_ord_id) for f in fills] == [
        (D("0.009998"), D("50010.0"), D("2.0"), "kt-q2")
    ]


def test_ws_items_that_only_report_progress_carry_no_order() -> None:
    exchange, events = _offline_exchange()
    progress = _trade_item()
    del progress["cash_order_qty"]
    unmodelled = _ws_item("new", order_type="stop-loss-limit")
    del unmodelled["cash_order_qty"]
    unmodelled["order_qty"] = 0.01
    exchange._on_private({"channel": "executions", "type": "update", "data": [progress]})
    exchange._on_private({"channel": "executions", "type": "update", "data": [unmodelled]})
    updates = _updates(events)
    assert [(u.status, u.order) for u in updates] == [
        (OrderStatus.FILLED, None),
        (OrderStatus.NEW, None),
    ]
    assert sum(isinstance(e, FillEvent) for e in events) == 1


def test_ws_item_of_an_order_we_did_not_place_is_described_as_external() -> None:
    exchange, events = _offline_exchange()
    item = _ws_item("new")
    del item["cl_ord_id"]
    exchange._on_private({"channel": "executions", "type": "snapshot", "data": [item]})
    (update,) = _updates(events)
    assert update.order is not None and update.order.external
    assert update.order.cl_ord_id == "ext-OQWS1-AAAAA-BBBBBB"


@pytest.mark.parametrize(
    "bad",
    [
        {"cash_order_qty": "lots"},
        {"cash_order_qty": -500.0},
        {"cash_order_qty": 0},
        {"cash_order_qty": [500.0]},
        {"cash_order_qty": None},
        {"order_qty": 0.01},
    ],
    ids=["text", "negative", "zero", "list", "null", "also-order-qty"],
)
def test_ws_items_with_a_malformed_quote_size_are_skipped_whole(bad: dict[str, Any]) -> None:
    exchange, events = _offline_exchange()
    broken = _trade_item(exec_id="TBAD", **bad)
    exchange._on_private(
        {"channel": "executions", "type": "update", "data": [broken, _trade_item()]}
    )
    fills = [e.execution.exec_id for e in events if isinstance(e, FillEvent)]
    assert fills == ["TQ1"]
    assert len(_updates(events)) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from(
            [
                "cash_order_qty",
                "order_qty",
                "side",
                "order_type",
                "cum_qty",
                "avg_price",
                "limit_price",
                "triggers",
                "time_in_force",
                "symbol",
                "oflags",
                "vol",
                "vol_exec",
            ]
        ),
        json_values,
        max_size=4,
    )
)
def test_hostile_quote_size_fields_raise_only_malformed_payload(changes: dict[str, Any]) -> None:
    exchange, events = _offline_exchange()
    with contextlib.suppress(parse.MalformedPayload):
        parse.order_update_from_ws(_ws_item("new", **changes))
    with contextlib.suppress(parse.MalformedPayload):
        parse.order_from_rest("OQ", _rest_entry(**changes), exchange._account.symbol_of)
    exchange._on_private(
        {"channel": "executions", "type": "update", "data": [_ws_item("new", **changes)]}
    )
    for update in _updates(events):
        order = update.order
        assert order is None or order.quote_volume is None or order.quote_volume > 0


# -- AddOrder ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("500.123456", "EGeneral:Invalid arguments:volume"),
        ("0.40000", "EOrder:Cost minimum not met"),
    ],
)
async def test_quote_buy_off_the_cost_grid_or_under_the_minimum_is_refused_before_sending(
    amount: str, error: str
) -> None:
    exchange, _ = _offline_exchange()
    with pytest.raises(OrderRejected) as refused:
        await exchange.add_order(_quote_request(amount))
    assert refused.value.kraken_error == error
    assert str(refused.value) == error


# -- against the sandbox ----------------------------------------------------------------------


async def test_quote_buy_fills_in_base_and_is_found_by_its_cl_ord_id() -> None:
    async with (
        running_sandbox(rate=100) as sandbox,
        connected(sandbox, tier=Tier.STARTER) as (exchange, events),
    ):
        assert exchange.instruments["BTC/USD"].cost_decimals == 5
        request = _quote_request("500.00000")
        ack = await exchange.add_order(request)

        def final() -> OrderUpdate | None:
            return next(
                (
                    u
                    for u in _updates(events)
                    if u.cl_ord_id == request.cl_ord_id and u.status.is_final
                ),
                None,
            )

        await eventually(lambda: final() is not None)
        update = final()
        assert update is not None and update.status is OrderStatus.FILLED
        fills = [
            e.execution
            for e in events
            if isinstance(e, FillEvent) and e.execution.cl_ord_id == request.cl_ord_id
        ]
        bought = sum((f.qty for f in fills), ZERO)
        spent = sum((f.qty * f.price for f in fills), ZERO)
        assert fills and bought == update.filled
        assert D("499") < spent <= D("500")
        # Kraken's executions are sparse: only pending_new describes the order
        (described,) = [
            u.order for u in _updates(events) if u.cl_ord_id == request.cl_ord_id and u.order
        ]
        assert described.quote_volume == D("500")

        found = await exchange.lookup_order(request.cl_ord_id)
        assert found is not None and found.order_id == ack.order_id
        assert found.status is OrderStatus.FILLED
        assert (found.quote_volume, found.volume, found.filled) == (D("500"), ZERO, bought)
        assert found.remaining == ZERO
        closed = [o for o in await exchange.closed_orders() if o.order_id == ack.order_id]
        assert [o.quote_volume for o in closed] == [D("500")]
        assert sorted(f.exec_id for f in fills) == sorted(
            f.exec_id for f in await exchange.executions_since() if f.order_id == ack.order_id
        )


async def test_quote_buy_refusals_carry_krakens_error_string() -> None:
    async with (
        running_sandbox(rate=100) as sandbox,
        connected(sandbox, tier=Tier.STARTER) as (exchange, events),
    ):
        with pytest.raises(OrderRejected) as funds:
            await exchange.add_order(_quote_request("99900.00000"))
        assert funds.value.kraken_error == "EOrder:Insufficient funds"
        with pytest.raises(OrderRejected) as minimum:
            await exchange.add_order(_quote_request("1.00000"))
        assert minimum.value.kraken_error == "EOrder:Order minimum not met"
        with pytest.raises(OrderRejected) as cost:
            await exchange.add_order(_quote_request("0.10000"))
        assert cost.value.kraken_error == "EOrder:Cost minimum not met"
        await asyncio.sleep(0.5)
        assert await exchange.open_orders() == []
        assert not any(isinstance(e, FillEvent) for e in events)
