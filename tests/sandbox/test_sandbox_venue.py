from decimal import Decimal

import pytest

from kraken_tui.domain.enums import Liquidity, Side
from kraken_tui.sandbox.errors import VenueError
from kraken_tui.sandbox.events import (
    BalanceChanged,
    BookLevelChanged,
    ExecType,
    ExecutionEvent,
    TradePrinted,
    VenueEvent,
)
from kraken_tui.sandbox.fees import FeeSchedule
from kraken_tui.sandbox.records import OrderState
from kraken_tui.sandbox.venue import SandboxVenue

T0 = 1_700_000_000.0
KEY = "alice-key"
OTHER = "bob-key"
D = Decimal


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def venue(clock: Clock) -> SandboxVenue:
    venue = SandboxVenue(clock=clock, id_seed=7)
    venue.open_account(KEY)
    venue.open_account(OTHER)
    for offset, qty in ((D("0.0"), "0.5"), (D("0.5"), "0.5"), (D("1.0"), "1")):
        venue.place_synthetic("BTC/USD", Side.SELL, D("95000.0") + offset, D(qty))
        venue.place_synthetic("BTC/USD", Side.BUY, D("94999.0") - offset, D(qty))
    return venue


@pytest.fixture
def events(venue: SandboxVenue) -> list[VenueEvent]:
    collected: list[VenueEvent] = []
    venue.subscribe(collected.append)
    return collected


def executions(events: list[VenueEvent], api_key: str = KEY) -> list[ExecutionEvent]:
    return [e for e in events if isinstance(e, ExecutionEvent) and e.api_key == api_key]


def refused(venue: SandboxVenue, **order: object) -> str:
    with pytest.raises(VenueError) as caught:
        venue.add_order(KEY, **order)  # type: ignore[arg-type]
    return caught.value.error


BTC_LIMIT = {"pair": "XBTUSD", "side": "buy", "order_type": "limit", "volume": "0.01"}


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"pair": "NOPE/USD"}, "EQuery:Unknown asset pair"),
        ({"price": "94000.05"}, "EOrder:Tick size check failed"),
        ({"price": "-5"}, "EOrder:Invalid price"),
        ({"price": "94000.0", "volume": "0.00001"}, "EOrder:Order minimum not met"),
        ({"price": "9000.0", "volume": "0.00005"}, "EOrder:Cost minimum not met"),
        ({"price": "94000.0", "volume": "5"}, "EOrder:Insufficient funds"),
        ({"price": "94000.0", "volume": "0.000000001"}, "EGeneral:Invalid arguments:volume"),
        ({"price": "94000.0", "volume": "abc"}, "EGeneral:Invalid arguments:volume"),
        ({}, "EGeneral:Invalid arguments:price"),
        ({"order_type": "trailing-stop"}, "EGeneral:Invalid arguments:ordertype"),
        ({"side": "hold"}, "EGeneral:Invalid arguments:type"),
        ({"price": "94000.0", "time_in_force": "gtd"}, "EGeneral:Invalid arguments:timeinforce"),
        (
            {"price": "94000.0", "userref": 1, "cl_ord_id": "x"},
            "EGeneral:Invalid arguments:cl_ord_id",
        ),
    ],
)
def test_add_order_refuses_bad_orders_with_krakens_error_string(
    venue: SandboxVenue, changes: dict[str, object], error: str
) -> None:
    assert refused(venue, **{**BTC_LIMIT, **changes}) == error
    assert venue.open_orders(KEY) == []


def test_selling_more_base_than_owned_is_insufficient_funds(venue: SandboxVenue) -> None:
    error = refused(venue, pair="BTC/USD", side="sell", order_type="market", volume="2.5")
    assert error == "EOrder:Insufficient funds"


def test_market_buy_costing_more_than_available_quote_is_refused(venue: SandboxVenue) -> None:
    venue.open_account("poor", {"ZUSD": D("1000")})
    with pytest.raises(VenueError) as caught:
        venue.add_order("poor", pair="BTC/USD", side="buy", order_type="market", volume="0.02")
    assert caught.value.error == "EOrder:Insufficient funds"


def test_unknown_api_key_is_refused(venue: SandboxVenue) -> None:
    with pytest.raises(VenueError) as caught:
        venue.balances("nobody")
    assert caught.value.error == "EAPI:Invalid key"


def test_duplicate_cl_ord_id_among_open_orders_is_refused(venue: SandboxVenue) -> None:
    venue.add_order(KEY, **BTC_LIMIT, price="94000.0", cl_ord_id="abc")
    assert refused(venue, **BTC_LIMIT, price="93000.0", cl_ord_id="abc") == (
        "EOrder:Duplicate order"
    )


def test_cl_ord_id_can_be_reused_once_the_first_order_is_closed(venue: SandboxVenue) -> None:
    venue.add_order(KEY, **BTC_LIMIT, price="94000.0", cl_ord_id="abc")
    venue.cancel_order(KEY, cl_ord_id="abc")
    assert venue.add_order(KEY, **BTC_LIMIT, price="94000.0", cl_ord_id="abc").txid


def test_validate_only_checks_and_places_nothing(
    venue: SandboxVenue, events: list[VenueEvent]
) -> None:
    result = venue.add_order(KEY, **BTC_LIMIT, price="94000.0", validate=True)
    assert result.txid is None
    assert result.description == "buy 0.01000000 XBTUSD @ limit 94000.0"
    assert venue.open_orders(KEY) == []
    assert events == []
    assert refused(venue, **{**BTC_LIMIT, "volume": "9"}, price="94000.0", validate=True) == (
        "EOrder:Insufficient funds"
    )


def test_resting_limit_buy_holds_quote_including_taker_fee(venue: SandboxVenue) -> None:
    txid = venue.add_order(KEY, **BTC_LIMIT, price="94000.0").txid
    (order,) = venue.open_orders(KEY)
    assert order.txid == txid
    assert order.status is OrderState.OPEN
    assert order.ws_status == "new"
    usd = venue.balances_ex(KEY)["ZUSD"]
    assert usd.balance == D(100_000)
    assert usd.hold_trade == D("0.01") * D("94000.0") * D("1.004")


def test_market_buy_walks_asks_in_price_order_and_pays_taker_fee(
    venue: SandboxVenue, events: list[VenueEvent]
) -> None:
    venue.add_order(KEY, pair="BTC/USD", side="buy", order_type="market", volume="0.7")
    trades = [e for e in events if isinstance(e, TradePrinted)]
    assert [(t.price, t.qty, t.side) for t in trades] == [
        (D("95000.0"), D("0.5"), Side.BUY),
        (D("95000.5"), D("0.2"), Side.BUY),
    ]
    cost = D("0.5") * D("95000.0") + D("0.2") * D("95000.5")
    fee = (D("0.5") * D("95000.0") * D("0.004")) + (D("0.2") * D("95000.5") * D("0.004"))
    balances = venue.balances(KEY)
    assert balances["XXBT"] == D("2.7")
    assert balances["ZUSD"] == D(100_000) - cost - fee
    assert [e.exec_type for e in executions(events)] == [
        ExecType.PENDING_NEW,
        ExecType.NEW,
        ExecType.TRADE,
        ExecType.TRADE,
        ExecType.FILLED,
    ]
    last_trade = executions(events)[3]
    assert last_trade.liquidity_ind is Liquidity.TAKER
    assert last_trade.order.vol_exec == D("0.7")
    assert last_trade.order.avg_price == (cost / D("0.7")).quantize(D("0.00001"))
    assert venue.book("BTC/USD", 1).asks == ((D("95000.5"), D("0.3")),)


def test_market_order_beyond_available_liquidity_fills_what_exists_then_cancels(
    venue: SandboxVenue, events: list[VenueEvent]
) -> None:
    venue.add_order(KEY, pair="BTC/USD", side="sell", order_type="market", volume="2",
                    fee_in_base=False)  # fmt: skip
    (order,) = venue.closed_orders(KEY).items
    assert order.vol_exec == D("2")
    assert order.status is OrderState.CLOSED
    venue.place_synthetic("BTC/USD", Side.BUY, D("90000.0"), D("0.1"))
    venue.add_order(OTHER, pair="BTC/USD", side="sell", order_type="market", volume="0.3")
    (partial,) = venue.closed_orders(OTHER).items
    assert (partial.vol_exec, partial.status) == (D("0.1"), OrderState.CANCELED)
    assert partial.reason == "Insufficient liquidity"


def test_limit_order_fully_crossing_the_book_fills_as_taker(venue: SandboxVenue) -> None:
    venue.add_order(KEY, **{**BTC_LIMIT, "volume": "0.8"}, price="95000.5")
    assert venue.open_orders(KEY) == []
    (order,) = venue.closed_orders(KEY).items
    assert (order.status, order.vol_exec, order.ws_status) == (
        OrderState.CLOSED,
        D("0.8"),
        "filled",
    )
    assert not any(fill.maker for fill in venue.trades_history(KEY).items)
    assert venue.balances_ex(KEY)["ZUSD"].hold_trade == 0


def test_limit_remainder_rests_at_its_price_after_sweeping(venue: SandboxVenue) -> None:
    venue.open_account("rich", {"ZUSD": D(1_000_000)})
    venue.add_order("rich", **{**BTC_LIMIT, "volume": "1.2"}, price="95000.5")
    (order,) = venue.open_orders("rich")
    assert (order.vol_exec, order.remaining, order.ws_status) == (
        D("1.0"),
        D("0.2"),
        "partially_filled",
    )
    assert venue.book("BTC/USD", 1).bids == ((D("95000.5"), D("0.2")),)
    hold = venue.balances_ex("rich")["ZUSD"].hold_trade
    assert hold == D("0.2") * D("95000.5") * D("1.004")


def test_ioc_fills_what_crosses_and_cancels_the_rest(
    venue: SandboxVenue, events: list[VenueEvent]
) -> None:
    venue.add_order(KEY, **{**BTC_LIMIT, "volume": "0.6"}, price="95000.0", time_in_force="ioc")
    assert venue.open_orders(KEY) == []
    (order,) = venue.closed_orders(KEY).items
    assert (order.vol_exec, order.status) == (D("0.5"), OrderState.CANCELED)
    assert executions(events)[-1].exec_type is ExecType.CANCELED
    assert venue.balances_ex(KEY)["ZUSD"].hold_trade == 0


def test_post_only_order_rests_and_earns_the_maker_fee(venue: SandboxVenue) -> None:
    venue.add_order(KEY, **{**BTC_LIMIT, "volume": "0.1"}, price="94999.5", post_only=True)
    venue.take_synthetic("BTC/USD", Side.SELL, D("0.1"))
    (fill,) = venue.trades_history(KEY).items
    assert fill.maker
    assert fill.price == D("94999.5")
    fee = D("0.1") * D("94999.5") * D("0.0025")
    assert fill.fee == fee.quantize(D("0.0001"), rounding="ROUND_DOWN")
    assert fill.fee_asset == "ZUSD"


def test_fee_schedule_is_configurable(clock: Clock) -> None:
    venue = SandboxVenue(clock=clock, fees=FeeSchedule(maker=D("0"), taker=D("0.001")))
    venue.open_account(KEY)
    venue.place_synthetic("ETH/USD", Side.SELL, D("3500.00"), D("1"))
    venue.add_order(KEY, pair="ETHUSD", side="buy", order_type="market", volume="1")
    (fill,) = venue.trades_history(KEY).items
    assert fill.fee == D("3.5")


def test_resting_orders_fill_in_price_then_time_priority(venue: SandboxVenue) -> None:
    first = venue.add_order(KEY, **BTC_LIMIT, price="94999.5").txid
    second = venue.add_order(OTHER, **BTC_LIMIT, price="94999.5").txid
    better = venue.add_order(OTHER, **BTC_LIMIT, price="94999.6").txid
    venue.take_synthetic("BTC/USD", Side.SELL, D("0.015"))
    fills = {f.order_txid: f.vol for f in venue.trades_history(KEY).items}
    fills |= {f.order_txid: f.vol for f in venue.trades_history(OTHER).items}
    assert fills == {better: D("0.01"), first: D("0.005")}
    assert second not in fills


def test_users_trade_with_each_other_and_each_pays_its_own_fee(venue: SandboxVenue) -> None:
    venue.add_order(OTHER, pair="BTC/USD", side="sell", order_type="limit", volume="0.1",
                    price="94999.8", fee_in_base=False)  # fmt: skip
    venue.add_order(KEY, pair="BTC/USD", side="buy", order_type="market", volume="0.1")
    (maker_fill,) = venue.trades_history(OTHER).items
    (taker_fill,) = venue.trades_history(KEY).items
    assert maker_fill.public_trade_id == taker_fill.public_trade_id
    cost = D("9499.98")
    assert (maker_fill.maker, taker_fill.maker) == (True, False)
    assert maker_fill.fee == (cost * D("0.0025")).quantize(D("0.0001"), rounding="ROUND_DOWN")
    assert taker_fill.fee == (cost * D("0.004")).quantize(D("0.0001"), rounding="ROUND_DOWN")
    assert venue.balances(OTHER)["XXBT"] == D("1.9")
    assert venue.balances(OTHER)["ZUSD"] == D(100_000) + cost - maker_fill.fee
    assert venue.fee_income() == {"ZUSD": maker_fill.fee + taker_fill.fee}


def test_an_order_that_would_trade_with_its_own_account_is_cancelled(
    venue: SandboxVenue,
) -> None:
    venue.add_order(KEY, pair="BTC/USD", side="sell", order_type="limit", volume="0.1",
                    price="94999.8")  # fmt: skip
    venue.add_order(KEY, **{**BTC_LIMIT, "volume": "0.1"}, price="95000.0")
    newest = venue.closed_orders(KEY).items[0]
    assert (newest.status, newest.reason) == (OrderState.CANCELED, "Self trade prevention")
    assert venue.trades_history(KEY).count == 0
    assert len(venue.open_orders(KEY)) == 1


def test_cancel_by_txid_releases_the_hold(venue: SandboxVenue, events: list[VenueEvent]) -> None:
    txid = venue.add_order(KEY, **BTC_LIMIT, price="94000.0").txid
    assert txid is not None
    result = venue.cancel_order(KEY, txid=txid)
    assert result.count == 1
    assert venue.balances_ex(KEY)["ZUSD"].hold_trade == 0
    (closed,) = venue.closed_orders(KEY).items
    assert (closed.status, closed.reason) == (OrderState.CANCELED, "User requested")
    assert executions(events)[-1].exec_type is ExecType.CANCELED
    assert any(isinstance(e, BalanceChanged) and e.hold_trade == 0 for e in events)


def test_cancel_by_userref_cancels_every_order_carrying_it(venue: SandboxVenue) -> None:
    venue.add_order(KEY, **BTC_LIMIT, price="94000.0", userref=42)
    venue.add_order(KEY, **BTC_LIMIT, price="93000.0", userref=42)
    keep = venue.add_order(KEY, **BTC_LIMIT, price="92000.0", userref=7).txid
    assert venue.cancel_order(KEY, userref=42).count == 2
    assert [o.txid for o in venue.open_orders(KEY)] == [keep]


def test_cancel_by_cl_ord_id(venue: SandboxVenue) -> None:
    venue.add_order(KEY, **BTC_LIMIT, price="94000.0", cl_ord_id="mine-1")
    assert venue.cancel_order(KEY, cl_ord_id="mine-1").count == 1
    assert venue.open_orders(KEY) == []


@pytest.mark.parametrize(
    "reference", [{"txid": "OAAAAA-BBBBB-CCCCCC"}, {"userref": 5}, {"cl_ord_id": "none"}]
)
def test_cancelling_an_unknown_order_is_refused(
    venue: SandboxVenue, reference: dict[str, object]
) -> None:
    with pytest.raises(VenueError) as caught:
        venue.cancel_order(KEY, **reference)  # type: ignore[arg-type]
    assert caught.value.error == "EOrder:Unknown order"


def test_another_accounts_order_is_unknown_to_cancel(venue: SandboxVenue) -> None:
    txid = venue.add_order(OTHER, **BTC_LIMIT, price="94000.0").txid
    with pytest.raises(VenueError) as caught:
        venue.cancel_order(KEY, txid=txid)
    assert caught.value.error == "EOrder:Unknown order"


def test_cancel_all_cancels_every_open_order_of_the_account_only(venue: SandboxVenue) -> None:
    for price in ("94000.0", "93000.0"):
        venue.add_order(KEY, **BTC_LIMIT, price=price)
    venue.add_order(OTHER, **BTC_LIMIT, price="94000.0")
    assert venue.cancel_all(KEY).count == 2
    assert venue.open_orders(KEY) == []
    assert len(venue.open_orders(OTHER)) == 1


def test_dead_man_switch_cancels_everything_when_it_expires(
    venue: SandboxVenue, clock: Clock
) -> None:
    venue.add_order(KEY, **BTC_LIMIT, price="94000.0")
    switch = venue.cancel_all_orders_after(KEY, 60)
    assert switch.trigger_time == T0 + 60
    clock.now = T0 + 59
    venue.tick()
    assert len(venue.open_orders(KEY)) == 1
    clock.now = T0 + 61
    venue.tick()
    assert venue.open_orders(KEY) == []
    assert venue.closed_orders(KEY).items[0].reason == "Dead man's switch"


def test_dead_man_switch_is_disarmed_by_timeout_zero(venue: SandboxVenue, clock: Clock) -> None:
    venue.add_order(KEY, **BTC_LIMIT, price="94000.0")
    venue.cancel_all_orders_after(KEY, 10)
    assert venue.cancel_all_orders_after(KEY, 0).trigger_time is None
    venue.tick(T0 + 100)
    assert len(venue.open_orders(KEY)) == 1


def test_dead_man_timeout_must_be_below_a_day(venue: SandboxVenue) -> None:
    with pytest.raises(VenueError) as caught:
        venue.cancel_all_orders_after(KEY, 86_400)
    assert caught.value.error == "EGeneral:Invalid arguments:timeout"


def test_amend_reducing_quantity_keeps_queue_priority(
    venue: SandboxVenue, events: list[VenueEvent]
) -> None:
    first = venue.add_order(KEY, **{**BTC_LIMIT, "volume": "0.05"}, price="94999.5").txid
    venue.add_order(OTHER, **{**BTC_LIMIT, "volume": "0.05"}, price="94999.5")
    venue.amend_order(KEY, txid=first, order_qty="0.02")
    assert executions(events)[-1].exec_type is ExecType.AMENDED
    assert venue.book("BTC/USD", 1).bids == ((D("94999.5"), D("0.07")),)
    venue.take_synthetic("BTC/USD", Side.SELL, D("0.02"))
    assert venue.trades_history(KEY).items[0].vol == D("0.02")
    assert venue.trades_history(OTHER).count == 0


def test_amend_changing_price_loses_queue_priority(venue: SandboxVenue) -> None:
    first = venue.add_order(KEY, **BTC_LIMIT, price="94999.4").txid
    venue.add_order(OTHER, **BTC_LIMIT, price="94999.5")
    venue.amend_order(KEY, txid=first, limit_price="94999.5")
    venue.take_synthetic("BTC/USD", Side.SELL, D("0.01"))
    assert venue.trades_history(OTHER).count == 1
    assert venue.trades_history(KEY).count == 0


def test_amend_to_a_crossing_price_trades_immediately(venue: SandboxVenue) -> None:
    txid = venue.add_order(KEY, **BTC_LIMIT, price="94000.0").txid
    venue.amend_order(KEY, txid=txid, limit_price="95000.0")
    assert venue.trades_history(KEY).items[0].price == D("95000.0")


def test_amend_refusals_use_krakens_strings(venue: SandboxVenue) -> None:
    txid = venue.add_order(KEY, **{**BTC_LIMIT, "volume": "0.6"}, price="95000.0").txid
    venue.add_order(KEY, **BTC_LIMIT, price="94000.0", post_only=True, cl_ord_id="p")
    cases = [
        ({"txid": "OAAAAA-BBBBB-CCCCCC", "order_qty": "1"}, "EOrder:Unknown order"),
        ({"txid": txid, "order_qty": "0.5"}, "EGeneral:Invalid arguments:order_qty"),
        ({"txid": txid, "limit_price": "95000.55"}, "EOrder:Tick size check failed"),
        ({"cl_ord_id": "p", "limit_price": "95000.5"}, "EOrder:Post only order"),
        ({"cl_ord_id": "p", "order_qty": "50"}, "EOrder:Insufficient funds"),
    ]
    for arguments, error in cases:
        with pytest.raises(VenueError) as caught:
            venue.amend_order(KEY, **arguments)  # type: ignore[arg-type]
        assert caught.value.error == error


def test_stop_loss_sell_triggers_on_a_trade_at_its_price_and_sells_at_market(
    venue: SandboxVenue, events: list[VenueEvent]
) -> None:
    venue.add_order(KEY, pair="BTC/USD", side="sell", order_type="stop-loss", volume="0.1",
                    trigger_price="94998.5", fee_in_base=False)  # fmt: skip
    assert venue.balances_ex(KEY)["XXBT"].hold_trade == D("0.1")
    venue.take_synthetic("BTC/USD", Side.SELL, D("0.5"))
    assert len(venue.open_orders(KEY)) == 1
    venue.take_synthetic("BTC/USD", Side.SELL, D("0.1"))
    (order,) = venue.closed_orders(KEY).items
    assert order.triggered
    assert (order.status, order.vol_exec) == (OrderState.CLOSED, D("0.1"))
    assert ExecType.STATUS in [e.exec_type for e in executions(events)]
    btc = venue.balances_ex(KEY)["XXBT"]
    assert (btc.balance, btc.hold_trade) == (D("1.9"), D("0"))


def test_take_profit_buy_triggers_when_price_falls_to_it(venue: SandboxVenue) -> None:
    venue.add_order(KEY, pair="BTC/USD", side="buy", order_type="take-profit", volume="0.1",
                    trigger_price="94998.0")  # fmt: skip
    venue.take_synthetic("BTC/USD", Side.SELL, D("1.2"))
    (order,) = venue.closed_orders(KEY).items
    assert order.status is OrderState.CLOSED
    assert venue.balances(KEY)["XXBT"] == D("2.1")


def test_stop_loss_limit_rests_at_its_limit_once_triggered(venue: SandboxVenue) -> None:
    venue.add_order(KEY, pair="BTC/USD", side="sell", order_type="stop-loss-limit",
                    volume="0.1", trigger_price="94999.0", price="96000.0")  # fmt: skip
    venue.take_synthetic("BTC/USD", Side.SELL, D("0.1"))
    (order,) = venue.open_orders(KEY)
    assert order.triggered
    assert (D("96000.0"), D("0.1")) in venue.book("BTC/USD", 10).asks


def test_queries_page_closed_orders_and_fills_newest_first(
    venue: SandboxVenue, clock: Clock
) -> None:
    txids = []
    for i in range(5):
        clock.now = T0 + i
        txid = venue.add_order(KEY, pair="BTC/USD", side="buy", order_type="market",
                               volume="0.01").txid  # fmt: skip
        txids.append(txid)
    page = venue.closed_orders(KEY, offset=1, limit=2)
    assert page.count == 5
    assert [o.txid for o in page.items] == [txids[3], txids[2]]
    assert venue.closed_orders(KEY, start=T0 + 1, end=txids[4]).count == 2
    fills = venue.trades_history(KEY, start=T0 + 2)
    assert [f.order_txid for f in fills.items] == [txids[4], txids[3]]
    assert [o.txid for o in venue.query_orders(KEY, [txids[0]])] == [txids[0]]
    assert venue.recent_fills(KEY, 2)[-1].order_txid == txids[4]
    with pytest.raises(VenueError) as caught:
        venue.query_orders(OTHER, [txids[0]])
    assert caught.value.error == "EOrder:Invalid order"


def test_trade_ids_are_kraken_shaped(venue: SandboxVenue) -> None:
    txid = venue.add_order(KEY, pair="BTC/USD", side="buy", order_type="market",
                           volume="0.01").txid  # fmt: skip
    fill = venue.trades_history(KEY).items[0]
    for identifier, prefix in ((txid, "O"), (fill.trade_id, "T")):
        assert identifier is not None
        parts = identifier.split("-")
        assert [len(p) for p in parts] == [6, 5, 6]
        assert identifier.startswith(prefix)


def test_market_data_is_consistent_with_trades(venue: SandboxVenue, clock: Clock) -> None:
    clock.now = T0 - T0 % 60 + 5
    venue.add_order(KEY, pair="BTC/USD", side="buy", order_type="market", volume="0.7")
    clock.now += 60
    venue.add_order(KEY, pair="BTC/USD", side="sell", order_type="market", volume="0.2")
    trades = venue.recent_trades("XBTUSD")
    assert [t.trade_id for t in trades] == [1, 2, 3]
    one_minute = venue.ohlc("BTC/USD", 1)
    assert [bar.volume for bar in one_minute] == [D("0.7"), D("0.2")]
    assert (one_minute[0].open, one_minute[0].high, one_minute[0].close) == (
        D("95000.0"),
        D("95000.5"),
        D("95000.5"),
    )
    five = venue.ohlc("BTC/USD", 5)
    assert sum(bar.volume for bar in five) == D("0.9")
    assert sum(bar.trades for bar in five) == 3
    ticker = venue.ticker("BTC/USD")
    assert (ticker.last, ticker.volume, ticker.trades) == (D("94999.0"), D("0.9"), 3)
    assert (ticker.high, ticker.low) == (D("95000.5"), D("94999.0"))
    assert (ticker.bid, ticker.ask) == (D("94999.0"), D("95000.5"))
    assert venue.recent_trades("BTC/USD", since=clock.now - 1) == [trades[-1]]
    with pytest.raises(VenueError):
        venue.ohlc("BTC/USD", 2)


def test_book_snapshot_aggregates_levels_best_first(venue: SandboxVenue) -> None:
    venue.add_order(KEY, **BTC_LIMIT, price="94999.0")
    book = venue.book("BTC/USD", 2)
    assert book.bids == ((D("94999.0"), D("0.51")), (D("94998.5"), D("0.5")))
    assert book.asks == ((D("95000.0"), D("0.5")), (D("95000.5"), D("0.5")))


def test_spread_history_records_top_of_book_changes(venue: SandboxVenue, clock: Clock) -> None:
    clock.now = T0 + 1
    venue.add_order(KEY, **BTC_LIMIT, price="94999.5")
    samples = venue.spread("BTC/USD")
    assert (samples[-1].bid, samples[-1].ask) == (D("94999.5"), D("95000.0"))
    assert venue.spread("BTC/USD", since=T0 + 1) == []


def test_book_events_reproduce_the_venue_book(
    venue: SandboxVenue, events: list[VenueEvent]
) -> None:
    mirror: dict[tuple[Side, Decimal], Decimal] = {}
    for level in venue.book("BTC/USD", 100).bids:
        mirror[(Side.BUY, level[0])] = level[1]
    for level in venue.book("BTC/USD", 100).asks:
        mirror[(Side.SELL, level[0])] = level[1]
    venue.open_account("rich", {"ZUSD": D(1_000_000)})
    venue.add_order("rich", **{**BTC_LIMIT, "volume": "1.3"}, price="95000.5")
    venue.take_synthetic("BTC/USD", Side.SELL, D("0.4"))
    venue.add_order(OTHER, pair="BTC/USD", side="sell", order_type="limit", volume="0.2",
                    price="95003.0")  # fmt: skip
    for event in events:
        if isinstance(event, BookLevelChanged) and event.symbol == "BTC/USD":
            if event.qty == 0:
                mirror.pop((event.side, event.price), None)
            else:
                mirror[(event.side, event.price)] = event.qty
    book = venue.book("BTC/USD", 100)
    bids = tuple(sorted(((p, q) for (s, p), q in mirror.items() if s is Side.BUY), reverse=True))
    asks = tuple(sorted((p, q) for (s, p), q in mirror.items() if s is Side.SELL))
    assert (bids, asks) == (book.bids, book.asks)


def test_trade_balance_values_every_asset_in_usd(venue: SandboxVenue) -> None:
    venue.add_order(KEY, pair="BTC/USD", side="buy", order_type="market", volume="0.01")
    balance = venue.trade_balance(KEY)
    btc_value = venue.balances(KEY)["XXBT"] * D("95000.0")
    assert balance.equivalent_balance == (venue.balances(KEY)["ZUSD"] + btc_value).quantize(
        D("0.0001")
    )
    assert balance.free_margin == balance.equity


def test_opening_an_existing_account_changes_nothing(venue: SandboxVenue) -> None:
    venue.add_order(KEY, pair="BTC/USD", side="buy", order_type="market", volume="0.01")
    before = venue.balances(KEY)
    assert venue.open_account(KEY) is False
    assert venue.balances(KEY) == before
