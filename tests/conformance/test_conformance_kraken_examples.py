"""Kraken's own example payloads through the adapter's parsers.

The corpus in `kraken_examples/` holds messages copied from Kraken's documentation
(docs.kraken.com), its REST OpenAPI description (krakenfx/api-specs) and its official SDK's
tests (krakenfx/kraken-api-sdk), each with its `source`. The sandbox is written by the same
hands as the adapter, so only these examples can show a belief both share and Kraken does not.
Messages are decoded as the SDK decodes them (plain `json`, numbers as floats).

An example that breaks a parser is a bug; where the fix belongs to work in progress elsewhere
the test is marked `xfail(strict=True)` with the gap named, so it turns red once fixed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kraken_tui.domain import (
    Instrument,
    Liquidity,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from kraken_tui.exchange import kraken_parse as parse
from kraken_tui.exchange.account_fees import account_fees_from_rest
from kraken_tui.exchange.instruments import (
    InstrumentRegistry,
    display_asset,
    instruments_from_asset_pairs,
)
from kraken_tui.exchange.order_book import BookOutcome, OrderBooks

EXAMPLES = Path(__file__).parent / "kraken_examples"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
# The pairs Kraken's order and trade examples name, beyond the two its AssetPairs example lists.
OTHER_PAIRS = {"XBTEUR": "BTC/EUR", "XBTGBP": "BTC/GBP", "DASHUSD": "DASH/USD", "XMRUSD": "XMR/USD"}


def examples(name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((EXAMPLES / name).read_text())
    assert all(item.get("source") for item in items), f"{name}: every example names its source"
    return items


def example(name: str, title: str) -> dict[str, Any]:
    return next(item for item in examples(name) if item["name"] == title)


def data(name: str, title: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = example(name, title)["message"]["data"]
    return items


def quote_of(symbol: str) -> str:
    return symbol.partition("/")[2]


@pytest.fixture(scope="module")
def registry() -> InstrumentRegistry:
    result = example("rest_asset_pairs.json", "AssetPairs: XETHXXBT and XXBTZUSD")["response"]
    return InstrumentRegistry(instruments_from_asset_pairs(result["result"]))


def symbol_of(registry: InstrumentRegistry) -> parse.SymbolResolver:
    def resolve(pair: str) -> str:
        instrument = registry.get(pair)
        return instrument.symbol if instrument is not None else OTHER_PAIRS[pair]

    return resolve


def rest_orders(title: str) -> dict[str, Any]:
    result = example("rest_orders.json", title)["response"]["result"]
    orders: dict[str, Any] = result.get("open") or result.get("closed") or result
    return {order_id: item for order_id, item in orders.items() if order_id != "count"}


# -- corpus -------------------------------------------------------------------------------


def test_every_corpus_file_is_a_list_of_sourced_examples() -> None:
    files = sorted(EXAMPLES.glob("*.json"))
    assert len(files) >= 10
    for path in files:
        items = examples(path.name)
        assert items, path.name
        assert all({"name", "source"} <= item.keys() for item in items), path.name


# -- WebSocket v2 book ----------------------------------------------------------------------


def test_docs_book_snapshot_and_update_pass_their_checksums_at_docs_precision() -> None:
    matic = Instrument(
        symbol="MATIC/USD",
        base="MATIC",
        quote="USD",
        price_decimals=4,
        lot_decimals=8,
        tick_size=Decimal("0.0001"),
        ordermin=Decimal(1),
        costmin=Decimal("0.5"),
    )
    books = OrderBooks(depth=10)
    book = books.add(matic)
    snapshot, update = (item["message"] for item in examples("ws_book.json"))

    assert books.apply_message(snapshot) == [("MATIC/USD", BookOutcome.APPLIED)]
    assert book.checksum == 2439117997
    best_bid, best_ask = book.best_bid, book.best_ask
    assert best_bid is not None and best_ask is not None
    assert (best_bid.price, best_bid.qty) == (Decimal("0.5666"), Decimal("4831.75496356"))
    assert (best_ask.price, best_ask.qty) == (Decimal("0.5668"), Decimal("4410.79769741"))
    assert book.spread == Decimal("0.0002")

    assert books.apply_message(update) == [("MATIC/USD", BookOutcome.APPLIED)]
    assert book.checksum == 2114181697
    assert book.levels(Side.BUY)[-1].qty == Decimal("1098.3947558")


# -- WebSocket v2 market data -----------------------------------------------------------------


def test_docs_trade_snapshot_and_update_become_trades() -> None:
    snapshot = [parse.trade_from_ws(item) for item in data("ws_market_data.json", "trade snapshot")]
    assert [(t.side, t.price, t.qty, t.trade_id) for t in snapshot] == [
        (Side.BUY, Decimal("0.5147"), Decimal("6423.46326"), 4665846),
        (Side.BUY, Decimal("0.5147"), Decimal("1136.19677815"), 4665847),
    ]
    (update,) = [parse.trade_from_ws(item) for item in data("ws_market_data.json", "trade update")]
    assert update.symbol == "MATIC/USD"
    assert (update.side, update.price, update.qty) == (Side.SELL, Decimal("0.5117"), Decimal(40))
    assert update.ts == datetime(2023, 9, 25, 7, 49, 37, 708706, tzinfo=UTC)


def test_docs_ticker_keeps_kraken_values_and_kraken_timestamp() -> None:
    (item,) = data("ws_market_data.json", "ticker update")
    ticker = parse.ticker_from_ws(item, NOW)
    assert ticker.symbol == "ALGO/USD"
    assert (ticker.bid, ticker.ask, ticker.last) == (
        Decimal("0.10025"),
        Decimal("0.10035"),
        Decimal("0.10035"),
    )
    assert ticker.volume == Decimal("997038.98383185")
    assert (ticker.vwap, ticker.low, ticker.high) == (
        Decimal("0.10148"),
        Decimal("0.09979"),
        Decimal("0.10285"),
    )
    assert ticker.change_pct == Decimal("-0.17")
    assert ticker.ts == datetime(2023, 9, 25, 9, 4, 31, 742648, tzinfo=UTC)


def test_docs_ohlc_candles_start_at_interval_begin_with_nine_fractional_digits() -> None:
    title = "ohlc snapshot: two closed 5-minute candles, interval_begin with nine fractional digits"
    first, second = (
        parse.candle_from_ws(item, closed=False) for item in data("ws_market_data.json", title)
    )
    assert first.ts == datetime(2023, 10, 4, 15, 25, tzinfo=UTC)
    assert (second.ts, second.interval, second.trades) == (
        datetime(2023, 10, 4, 15, 30, tzinfo=UTC),
        5,
        13,
    )
    assert (second.open, second.high, second.low, second.close) == (
        Decimal("0.09875"),
        Decimal("0.0988"),
        Decimal("0.09875"),
        Decimal("0.09875"),
    )
    assert second.volume == Decimal("16255.46368")
    (update,) = (
        parse.candle_from_ws(i, closed=False) for i in data("ws_market_data.json", "ohlc update")
    )
    assert (update.symbol, update.ts, update.close) == (
        "MATIC/USD",
        datetime(2023, 10, 4, 16, 25, tzinfo=UTC),
        Decimal("0.5627"),
    )


# -- WebSocket v2 executions ------------------------------------------------------------------


def test_docs_pending_new_describes_the_whole_order() -> None:
    (item,) = data("ws_executions.json", "pending_new carries the order's details")
    update = parse.order_update_from_ws(item)
    assert (update.order_id, update.status, update.symbol) == (
        "OK4GJX-KSTLS-7DZZO5",
        OrderStatus.PENDING_NEW,
        "BTC/USD",
    )
    assert parse.execution_from_ws(item, quote_of) is None
    order = update.order
    assert order is not None
    assert (order.side, order.order_type, order.volume, order.price) == (
        Side.SELL,
        OrderType.LIMIT,
        Decimal("0.005"),
        Decimal("26500.0"),
    )
    assert order.time_in_force is TimeInForce.GTC
    assert order.external
    assert order.created_at == datetime(2023, 9, 22, 10, 33, 5, 709950, tzinfo=UTC)


def test_docs_sparse_new_reports_status_without_order_details() -> None:
    (item,) = data("ws_executions.json", "new carries only ids, status and time")
    update = parse.order_update_from_ws(item)
    assert (update.order_id, update.status, update.exec_type) == (
        "OK4GJX-KSTLS-7DZZO5",
        OrderStatus.NEW,
        "new",
    )
    assert update.ts == datetime(2023, 9, 22, 10, 33, 5, 709982, tzinfo=UTC)
    assert update.order is None
    assert parse.execution_from_ws(item, quote_of) is None


def test_official_sdk_sparse_new_keeps_the_client_order_id() -> None:
    (item,) = data("ws_executions.json", "sparse new with cl_ord_id")
    update = parse.order_update_from_ws(item)
    assert (update.order_id, update.cl_ord_id, update.status) == (
        "OABC123",
        "my-cl-ord-id-01",
        OrderStatus.NEW,
    )
    assert update.order is None


def test_docs_trade_is_one_fill_with_its_fee_in_the_listed_asset() -> None:
    title = "trade that fills the whole order still says partially_filled; fees as a list"
    (item,) = data("ws_executions.json", title)
    update = parse.order_update_from_ws(item)
    assert (update.status, update.filled, update.avg_price) == (
        OrderStatus.PARTIALLY_FILLED,
        Decimal("0.005"),
        Decimal("26599.9"),
    )
    fill = parse.execution_from_ws(item, quote_of)
    assert fill is not None
    assert (fill.exec_id, fill.order_id, fill.symbol, fill.side) == (
        "TGBB7L-HT5LX-J3BZ4A",
        "OK4GJX-KSTLS-7DZZO5",
        "BTC/USD",
        Side.SELL,
    )
    assert (fill.price, fill.qty) == (Decimal("26599.9"), Decimal("0.005"))
    assert (fill.fee, fill.fee_ccy, fill.liquidity) == (Decimal("0.3458"), "USD", Liquidity.TAKER)


def test_official_sdk_canceled_ends_the_order_with_kraken_reason() -> None:
    (item,) = data("ws_executions.json", "canceled carries cancel_reason and reason, not the order")
    update = parse.order_update_from_ws(item)
    assert (update.order_id, update.cl_ord_id, update.status) == (
        "OABC123",
        "my-cl-ord-id-01",
        OrderStatus.CANCELED,
    )
    assert update.reason == "User requested"
    assert update.filled == 0
    assert parse.execution_from_ws(item, quote_of) is None


@pytest.mark.xfail(
    strict=True,
    raises=parse.MalformedPayload,
    reason="issue 15 point 6 (sparse executions work): an unknown exec_type without a "
    "timestamp is reported as a malformed payload instead of being logged and skipped",
)
def test_official_sdk_unknown_exec_type_is_not_a_malformed_payload() -> None:
    (item,) = data("ws_executions.json", "an exec_type this client does not know")
    parse.order_update_from_ws(item)
    assert parse.execution_from_ws(item, quote_of) is None


# -- WebSocket v2 balances --------------------------------------------------------------------


def test_docs_balances_snapshot_gives_assets_held_only_in_spot_their_balance() -> None:
    title = "snapshot with wallets, one asset partly in an earn wallet"
    balances = parse.balances_from_ws(data("ws_balances.json", title), display_asset)
    assert (balances["BTC"].total, balances["BTC"].available) == (Decimal("1.2"), Decimal("1.2"))
    assert balances["USD"].total == Decimal("80595.4943")


def test_docs_balances_snapshot_counts_only_the_spot_wallet() -> None:
    title = "snapshot with wallets, one asset partly in an earn wallet"
    balances = parse.balances_from_ws(data("ws_balances.json", title), display_asset)
    assert (balances["MATIC"].total, balances["MATIC"].available) == (Decimal(300), Decimal(300))


def test_docs_balances_ledger_updates_set_each_leg_to_its_post_trade_balance() -> None:
    totals = {}
    for item in examples("ws_balances.json")[1:]:
        for asset, balance in parse.balances_from_ws(
            item["message"]["data"], display_asset
        ).items():
            totals[asset] = balance.total
    assert totals == {"BTC": Decimal("0.005"), "USD": Decimal(500)}


# -- REST -------------------------------------------------------------------------------------


def test_spec_asset_pairs_become_instruments_under_display_names(
    registry: InstrumentRegistry,
) -> None:
    btc = registry.require("XXBTZUSD")
    assert registry.require("XBT/USD") is btc and registry.require("XBTUSD") is btc
    assert (btc.symbol, btc.base, btc.quote) == ("BTC/USD", "BTC", "USD")
    assert (btc.price_decimals, btc.lot_decimals, btc.cost_decimals) == (1, 8, 5)
    assert (btc.tick_size, btc.ordermin, btc.costmin) == (
        Decimal("0.1"),
        Decimal("0.0001"),
        Decimal("0.5"),
    )
    assert btc.taker_fee == Decimal("0.0026")
    eth = registry.require("ETH/XBT")
    assert (eth.symbol, eth.rest_name, eth.altname, eth.tick_size) == (
        "ETH/BTC",
        "XETHXXBT",
        "ETHXBT",
        Decimal("0.00001"),
    )


def test_spec_ohlc_rows_become_closed_candles() -> None:
    result = example("rest_ohlc.json", "OHLC, four one-minute rows and last")["response"]["result"]
    candles = [parse.candle_from_rest("BTC/USD", 1, row) for row in result["XXBTZUSD"]]
    assert [c.ts for c in candles] == [
        datetime.fromtimestamp(1688671200 + 60 * i, UTC) for i in range(4)
    ]
    first = candles[0]
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("30306.1"),
        Decimal("30306.2"),
        Decimal("30305.7"),
        Decimal("30305.7"),
    )
    assert (first.volume, first.trades, first.closed) == (Decimal("3.39243896"), 23, True)


def test_spec_balance_and_balance_ex_use_display_names_and_subtract_holds() -> None:
    plain = parse.balances_from_rest(
        example("rest_balance.json", "Balance")["response"]["result"], display_asset
    )
    assert plain["USD"].total == Decimal("171288.6158")
    assert plain["BTC"].total == Decimal("1011.1908877900")
    assert plain["ETH2.S"].total == Decimal("198.3970800000")
    assert plain["USD.M"].available == Decimal("1213029.2780")
    extended = parse.balances_from_rest(
        example("rest_balance.json", "BalanceEx with holds")["response"]["result"], display_asset
    )
    assert (extended["USD"].total, extended["USD"].available) == (
        Decimal("25435.21"),
        Decimal("17185.45"),
    )
    assert (extended["BTC"].total, extended["BTC"].available) == (
        Decimal("1.2435"),
        Decimal("0.4012"),
    )


def test_spec_open_orders_become_external_orders_with_fills_so_far(
    registry: InstrumentRegistry,
) -> None:
    items = rest_orders("OpenOrders: one partly filled")
    orders = {
        oid: parse.order_from_rest(oid, item, symbol_of(registry)) for oid, item in items.items()
    }
    partial = orders["OQCLML-BW3P3-BUCMWZ"]
    assert (partial.symbol, partial.side, partial.order_type) == (
        "BTC/USD",
        Side.BUY,
        OrderType.LIMIT,
    )
    assert (partial.status, partial.volume, partial.filled) == (
        OrderStatus.PARTIALLY_FILLED,
        Decimal("1.25"),
        Decimal("0.375"),
    )
    assert (partial.price, partial.avg_price) == (Decimal("30010.0"), Decimal("30010.0"))
    assert partial.external and partial.cl_ord_id == "ext-OQCLML-BW3P3-BUCMWZ"
    resting = orders["OB5VMB-B4U2U-DK2WRW"]
    assert (resting.status, resting.filled, resting.avg_price) == (OrderStatus.NEW, 0, None)


def test_spec_closed_orders_canceled_by_the_user_keep_kraken_reason(
    registry: InstrumentRegistry,
) -> None:
    items = rest_orders("ClosedOrders: canceled limit orders")
    orders = [parse.order_from_rest(oid, item, symbol_of(registry)) for oid, item in items.items()]
    assert [o.symbol for o in orders] == ["DASH/USD", "BTC/EUR", "BTC/USD"]
    assert {o.status for o in orders} == {OrderStatus.CANCELED}
    assert {o.reason for o in orders} == {"User requested"}
    assert orders[0].created_at == datetime(2019, 2, 13, 23, 36, 52, 787300, tzinfo=UTC)
    assert orders[0].updated_at == datetime(2019, 2, 13, 23, 42, 18, 364000, tzinfo=UTC)


def test_spec_query_orders_market_sell_is_filled_at_its_average_price(
    registry: InstrumentRegistry,
) -> None:
    item = rest_orders("QueryOrders: filled stop-loss-limit and market")["OMMDB2-FSB6Z-7W3HPO"]
    order = parse.order_from_rest("OMMDB2-FSB6Z-7W3HPO", item, symbol_of(registry))
    assert (order.side, order.order_type, order.status) == (
        Side.SELL,
        OrderType.MARKET,
        OrderStatus.FILLED,
    )
    assert (order.price, order.avg_price, order.filled, order.fees) == (
        None,
        Decimal("30000.0"),
        Decimal("0.25"),
        Decimal("7.5"),
    )


@pytest.mark.xfail(
    strict=True,
    raises=parse.MalformedPayload,
    reason="domain OrderType has no stop-loss-limit / take-profit-limit (Kraken's own "
    "ClosedOrders and QueryOrders examples carry them), so such orders are skipped",
)
@pytest.mark.parametrize(
    ("title", "order_id"),
    [
        ("ClosedOrders: canceled stop-loss-limit and take-profit-limit", "O37652-RJWRT-IMO74O"),
        ("ClosedOrders: canceled stop-loss-limit and take-profit-limit", "O6YDQ5-LOMWU-37YKEE"),
        ("QueryOrders: filled stop-loss-limit and market", "OBCMZD-JIEE7-77TH3F"),
    ],
)
def test_spec_triggered_limit_orders_are_read(
    registry: InstrumentRegistry, title: str, order_id: str
) -> None:
    order = parse.order_from_rest(order_id, rest_orders(title)[order_id], symbol_of(registry))
    assert order.side is Side.BUY
    assert order.trigger_price is not None


@pytest.mark.xfail(
    strict=True,
    raises=parse.MalformedPayload,
    reason="order_from_rest needs descr.pair/type/ordertype; this Kraken example gives only "
    "the descr.order text ('sell 3.00000000 XBTUSD @ limit 500.00000')",
)
def test_spec_open_order_described_only_by_its_order_text_is_read(
    registry: InstrumentRegistry,
) -> None:
    items = rest_orders("OpenOrders: descr with only the order text")
    order = parse.order_from_rest(
        "O7ICPO-F4CLJ-MVBLHC", items["O7ICPO-F4CLJ-MVBLHC"], symbol_of(registry)
    )
    assert (order.symbol, order.side, order.volume, order.price) == (
        "BTC/USD",
        Side.SELL,
        Decimal(3),
        Decimal(500),
    )


def test_spec_trades_history_fills_carry_fee_in_quote_and_pair_by_rest_key(
    registry: InstrumentRegistry,
) -> None:
    result = example("rest_trades_history.json", "TradesHistory: two sells")["response"]["result"]
    fills = [
        parse.execution_from_rest(tid, item, symbol_of(registry), quote_of)
        for tid, item in result["trades"].items()
    ]
    first = fills[0]
    assert (first.exec_id, first.order_id, first.symbol, first.side) == (
        "TBGB6I-IMYKU-WWA2SK",
        "OJTVFU-UWBXK-7AC6ML",
        "BTC/USD",
        Side.SELL,
    )
    assert (first.price, first.qty, first.fee, first.fee_ccy) == (
        Decimal("9.25"),
        Decimal("0.1"),
        Decimal("0.00296"),
        "USD",
    )
    assert first.liquidity is Liquidity.TAKER
    assert first.ts == datetime(2015, 4, 3, 18, 4, 58, 98600, tzinfo=UTC)
    assert len(fills) == int(result["count"])


def test_spec_trade_volume_gives_taker_and_maker_fractions_per_rest_pair() -> None:
    result = example("rest_trade_volume.json", "TradeVolume with maker fees")["response"]["result"]
    fees = account_fees_from_rest(result)
    assert fees.volume == Decimal("3015012348193.4134")
    assert fees.pairs["XETCXETH"].taker == Decimal("0.001")
    assert fees.pairs["XETCXETH"].maker == 0
