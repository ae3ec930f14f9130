"""KrakenExchange's message handling: wire payloads become domain events, and malformed,
truncated, mistyped or unknown payloads are logged and skipped without ever crashing it."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_tui.domain import Instrument, OrderStatus, Side
from kraken_tui.exchange import kraken_parse as parse
from kraken_tui.exchange.kraken import KrakenEndpoints, KrakenExchange
from kraken_tui.exchange.order_book import kraken_checksum
from kraken_tui.exchange.protocol import (
    BookChanged,
    CandleEvent,
    ExchangeEvent,
    FillEvent,
    OrderEvent,
    TickerEvent,
    TradeEvent,
)

BTC = Instrument(
    symbol="BTC/USD",
    base="BTC",
    quote="USD",
    price_decimals=1,
    lot_decimals=8,
    tick_size=Decimal("0.1"),
    ordermin=Decimal("0.00005"),
    costmin=Decimal("0.5"),
    rest_name="XXBTZUSD",
    altname="XBTUSD",
)
ETH = Instrument(
    symbol="ETH/USD",
    base="ETH",
    quote="USD",
    price_decimals=2,
    lot_decimals=8,
    tick_size=Decimal("0.01"),
    ordermin=Decimal("0.002"),
    costmin=Decimal("0.5"),
    rest_name="XETHZUSD",
    altname="ETHUSD",
)


def _exchange() -> tuple[KrakenExchange, list[ExchangeEvent]]:
    """A real adapter with instruments and books loaded, not connected to anything."""
    exchange = KrakenExchange(KrakenEndpoints("http://127.0.0.1:9", "ws://127.0.0.1:9", "ws://x"))
    events: list[ExchangeEvent] = []
    exchange.set_event_handler(events.append)
    for instrument in (BTC, ETH):
        exchange._registry.add(instrument)
        exchange._instruments[instrument.symbol] = instrument
        exchange._books.add(instrument)
        exchange._book_params[instrument.symbol] = {
            "channel": "book",
            "symbol": [instrument.symbol],
        }
    return exchange, events


def _book_snapshot(symbol: str, base: float, decimals: int = 1) -> dict[str, Any]:
    """A snapshot as Kraken sends it: numbers on the wire, checksum over their exact text."""
    asks = [(f"{base + 0.1 * (i + 1):.{decimals}f}", f"{1 + i / 10:.8f}") for i in range(10)]
    bids = [(f"{base - 0.1 * i:.{decimals}f}", f"{2 + i / 10:.8f}") for i in range(10)]
    wire = json.dumps(
        {
            "channel": "book",
            "type": "snapshot",
            "data": [
                {
                    "symbol": symbol,
                    "asks": [{"price": float(p), "qty": float(q)} for p, q in asks],
                    "bids": [{"price": float(p), "qty": float(q)} for p, q in bids],
                    "checksum": kraken_checksum(asks, bids),
                }
            ],
        }
    )
    return json.loads(wire)


def test_book_snapshot_becomes_a_verified_book_and_a_book_changed_event() -> None:
    exchange, events = _exchange()
    exchange._on_public(_book_snapshot("BTC/USD", 50000.0))
    assert events == [BookChanged("BTC/USD")]
    book = exchange.book("BTC/USD")
    assert book is not None and not book.stale
    assert book.best_bid is not None and book.best_bid.price == Decimal("50000.0")
    assert book.best_ask is not None and book.best_ask.price == Decimal("50000.1")


def test_checksum_mismatch_marks_only_that_symbol_stale() -> None:
    exchange, events = _exchange()
    exchange._public = None  # no connection: the resubscribe is skipped, the marking is not
    exchange._on_public(_book_snapshot("BTC/USD", 50000.0))
    exchange._on_public(_book_snapshot("ETH/USD", 3000.0, decimals=2))
    bad = _book_snapshot("BTC/USD", 50010.0)
    bad["type"] = "update"
    bad["data"][0]["checksum"] = 12345
    exchange._on_public(bad)
    assert events[-1] == BookChanged("BTC/USD", stale=True)
    btc, eth = exchange.book("BTC/USD"), exchange.book("ETH/USD")
    assert btc is not None and btc.stale
    assert eth is not None and not eth.stale


def test_trade_ticker_and_candles_are_normalized() -> None:
    exchange, events = _exchange()
    ts = "2026-11-25T10:00:01.123456Z"
    exchange._on_public(
        {
            "channel": "trade",
            "type": "update",
            "data": [
                {
                    "symbol": "BTC/USD",
                    "side": "buy",
                    "price": 50000.1,
                    "qty": 0.5,
                    "ord_type": "market",
                    "trade_id": 7,
                    "timestamp": ts,
                }
            ],
        }
    )
    exchange._on_public(
        {
            "channel": "ticker",
            "type": "update",
            "data": [
                {
                    "symbol": "BTC/USD",
                    "bid": 50000.0,
                    "bid_qty": 1.0,
                    "ask": 50000.1,
                    "ask_qty": 2.0,
                    "last": 50000.1,
                    "volume": 12.5,
                    "vwap": 49900.0,
                    "low": 49000.0,
                    "high": 51000.0,
                    "change": 10.0,
                    "change_pct": 0.02,
                }
            ],
        }
    )
    candle = {
        "symbol": "BTC/USD",
        "open": 1.0,
        "high": 2.0,
        "low": 0.5,
        "close": 1.5,
        "trades": 3,
        "volume": 4.0,
        "vwap": 1.2,
        "interval": 1,
        "interval_begin": "2026-11-25T10:00:00Z",
        "timestamp": ts,
    }
    later = dict(candle, interval_begin="2026-11-25T10:01:00Z", open=1.5)
    exchange._on_public({"channel": "ohlc", "type": "update", "data": [candle]})
    exchange._on_public({"channel": "ohlc", "type": "update", "data": [later]})
    trade = next(e for e in events if isinstance(e, TradeEvent)).trade
    assert (trade.side, trade.price, trade.qty) == (Side.BUY, Decimal("50000.1"), Decimal("0.5"))
    ticker = next(e for e in events if isinstance(e, TickerEvent)).ticker
    assert ticker.bid == Decimal("50000.0") and ticker.ask == Decimal("50000.1")
    candles = [e.candle for e in events if isinstance(e, CandleEvent)]
    assert [(c.ts.minute, c.closed) for c in candles] == [(0, False), (0, True), (1, False)]


def _execution(exec_type: str, **extra: Any) -> dict[str, Any]:
    item = {
        "exec_type": exec_type,
        "order_id": "OABCDE-FGHIJ-KLMNOP",
        "cl_ord_id": "kt-1",
        "symbol": "BTC/USD",
        "side": "buy",
        "order_type": "limit",
        "order_qty": 1.0,
        "limit_price": 50000.0,
        "order_status": "new",
        "cum_qty": 0,
        "timestamp": "2026-11-25T10:00:00.000001Z",
    }
    item.update(extra)
    return item


def test_fill_arrives_once_even_when_replayed() -> None:
    exchange, events = _exchange()
    trade = _execution(
        "trade",
        order_status="partially_filled",
        cum_qty=0.4,
        last_qty=0.4,
        last_price=50000.0,
        exec_id="TXYZ-1",
        liquidity_ind="m",
        fees=[{"asset": "USD", "qty": 50.0}],
    )
    message = {"channel": "executions", "type": "update", "data": [trade]}
    exchange._on_private(message)
    exchange._on_private(message)
    fills = [e.execution for e in events if isinstance(e, FillEvent)]
    assert len(fills) == 1
    assert (fills[0].qty, fills[0].fee, fills[0].fee_ccy) == (
        Decimal("0.4"),
        Decimal("50.0"),
        "USD",
    )
    updates = [e.update for e in events if isinstance(e, OrderEvent)]
    assert updates[0].status is OrderStatus.PARTIALLY_FILLED
    assert updates[0].filled == Decimal("0.4")


def test_filled_exec_type_finalises_the_order() -> None:
    exchange, events = _exchange()
    exchange._on_private(
        {
            "channel": "executions",
            "type": "update",
            "data": [_execution("filled", order_status="filled", cum_qty=1.0)],
        }
    )
    update = next(e.update for e in events if isinstance(e, OrderEvent))
    assert update.status is OrderStatus.FILLED and update.cl_ord_id == "kt-1"


def test_rest_order_and_trade_parsing_maps_names_and_statuses() -> None:
    exchange, _ = _exchange()
    order = parse.order_from_rest(
        "O1",
        {
            "status": "canceled",
            "cl_ord_id": "kt-9",
            "opentm": 1764064800.5,
            "closetm": "1764064900.25",
            "vol": "1.00000000",
            "vol_exec": "0.25000000",
            "fee": "0.1",
            "price": "50000.0",
            "descr": {"pair": "XBTUSD", "type": "sell", "ordertype": "limit", "price": "50010.0"},
            "oflags": "fciq,post",
        },
        exchange._account.symbol_of,
    )
    assert order.symbol == "BTC/USD" and order.status is OrderStatus.CANCELED
    assert order.post_only and order.filled == Decimal("0.25") and not order.external
    execution = parse.execution_from_rest(
        "T1",
        {
            "ordertxid": "O1",
            "pair": "XXBTZUSD",
            "time": 1764064800.123,
            "type": "sell",
            "price": "50010.0",
            "vol": "0.25",
            "fee": "0.05",
            "maker": True,
        },
        exchange._account.symbol_of,
        exchange._account.quote_of,
    )
    assert execution.symbol == "BTC/USD" and execution.fee_ccy == "USD"
    assert execution.ts == datetime.fromtimestamp(1764064800.123, UTC)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "symbol",
        "bids",
        "asks",
        "checksum",
        "price",
        "qty",
        "side",
        "timestamp",
        "exec_type",
        "order_id",
        "cl_ord_id",
        "order_status",
        "cum_qty",
        "last_qty",
        "last_price",
        "exec_id",
        "fees",
        "bid",
        "ask",
        "last",
        "volume",
        "open",
        "high",
        "low",
        "close",
        "interval",
        "interval_begin",
        "trades",
    ]
)
items = st.dictionaries(field_names, json_values, max_size=10)


@st.composite
def hostile_messages(draw: st.DrawFn) -> Any:
    channel = draw(
        st.sampled_from(
            [
                "book",
                "trade",
                "ticker",
                "ohlc",
                "executions",
                "balances",
                "status",
                "heartbeat",
                "nonsense",
                None,
            ]
        )
    )
    message: dict[str, Any] = {
        "channel": channel,
        "type": draw(st.sampled_from(["snapshot", "update", "other", None])),
        "data": draw(st.one_of(st.lists(st.one_of(items, json_values), max_size=3), json_values)),
    }
    if draw(st.booleans()):
        message["method"] = draw(st.sampled_from(["subscribe", "pong", "add_order", None]))
        message["success"] = draw(st.booleans())
    return draw(st.one_of(st.just(message), json_values))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(hostile_messages(), min_size=1, max_size=5))
def test_hostile_payloads_are_skipped_and_books_stay_trustworthy(messages: list[Any]) -> None:
    exchange, events = _exchange()
    exchange._public = None
    exchange._on_public(_book_snapshot("BTC/USD", 50000.0))
    for message in messages:
        if isinstance(message, dict):
            exchange._on_public(message)
            exchange._on_private(message)
    book = exchange.book("BTC/USD")
    assert book is not None
    if not book.stale:
        bids, asks = book.bids, book.asks
        assert all(a.price > b.price for a in asks[:1] for b in bids[:1])
        assert len(bids) <= 10 and len(asks) <= 10
    for event in events:
        if isinstance(event, FillEvent):
            assert event.execution.qty > 0


@settings(max_examples=500, deadline=None)
@given(
    order=st.dictionaries(
        st.sampled_from(
            [
                "status",
                "vol",
                "vol_exec",
                "descr",
                "opentm",
                "closetm",
                "price",
                "fee",
                "oflags",
                "cl_ord_id",
                "pair",
                "type",
                "ordertype",
                "ordertxid",
                "time",
                "maker",
            ]
        ),
        json_values,
    )
)
def test_hostile_rest_entries_raise_only_malformed_payload(order: dict[str, Any]) -> None:
    exchange, _ = _exchange()
    for convert in (
        lambda: parse.order_from_rest("O1", order, exchange._account.symbol_of),
        lambda: parse.execution_from_rest(
            "T1", order, exchange._account.symbol_of, exchange._account.quote_of
        ),
        lambda: exchange._account.orders_from({"O1": order}),
    ):
        with contextlib.suppress(parse.MalformedPayload):
            convert()


def test_trades_build_candles_for_an_interval_the_ohlc_channel_lacks() -> None:
    from kraken_tui.exchange.candles import CandleBuilder

    exchange, events = _exchange()
    exchange._candle_builders["BTC/USD"] = CandleBuilder("BTC/USD", 3)
    for ts, price in (("2026-11-25T10:00:05Z", 100.0), ("2026-11-25T10:03:01Z", 101.0)):
        item = {
            "symbol": "BTC/USD",
            "side": "buy",
            "price": price,
            "qty": 1.0,
            "ord_type": "market",
            "trade_id": 1,
            "timestamp": ts,
        }
        exchange._on_public({"channel": "trade", "type": "update", "data": [item]})
    candles = [e.candle for e in events if isinstance(e, CandleEvent)]
    assert [(c.ts.minute, c.closed, c.close) for c in candles] == [
        (0, False, Decimal("100.0")),
        (0, True, Decimal("100.0")),
        (3, False, Decimal("101.0")),
    ]
    assert sum(isinstance(e, TradeEvent) for e in events) == 2
