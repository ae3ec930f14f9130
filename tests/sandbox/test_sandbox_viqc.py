"""Market buys sized in quote (Kraken's `viqc`) on the venue itself: checks, walking the asks
on a budget, balances and fees, and a property over random books and amounts."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.errors import VenueError
from kraken_tui.sandbox.events import ExecType, ExecutionEvent, VenueEvent
from kraken_tui.sandbox.records import OrderState
from kraken_tui.sandbox.venue import SandboxVenue

D = Decimal
KEY = "alice-key"
OTHER = "bob-key"
T0 = 1_700_000_000.0
LOT = D("0.00000001")
TAKER = D("0.004")


def fresh_venue(asks: tuple[tuple[str, str], ...] = ()) -> SandboxVenue:
    venue = SandboxVenue(clock=lambda: T0, id_seed=11)
    venue.open_account(KEY)
    venue.open_account(OTHER)
    for price, qty in asks:
        venue.place_synthetic("BTC/USD", Side.SELL, D(price), D(qty))
    return venue


@pytest.fixture
def venue() -> SandboxVenue:
    return fresh_venue((("95000.0", "0.5"), ("95000.5", "0.5"), ("95001.0", "1")))


def buy_quote(venue: SandboxVenue, amount: str, api_key: str = KEY, **extra: object) -> str:
    added = venue.add_order(
        api_key,
        pair="XBTUSD",
        side="buy",
        order_type="market",
        volume=amount,
        volume_in_quote=True,
        **extra,  # type: ignore[arg-type]
    )
    assert added.txid is not None
    return added.txid


def refused(venue: SandboxVenue, **order: object) -> str:
    fields: dict[str, object] = {
        "pair": "XBTUSD",
        "side": "buy",
        "order_type": "market",
        "volume": "1000",
        "volume_in_quote": True,
    }
    with pytest.raises(VenueError) as caught:
        venue.add_order(KEY, **{**fields, **order})  # type: ignore[arg-type]
    return caught.value.error


def fills_of(venue: SandboxVenue, txid: str) -> list[tuple[Decimal, Decimal]]:
    items = venue.trades_history(KEY, limit=1000).items
    return [(f.price, f.vol) for f in reversed(items) if f.order_txid == txid]


def test_quote_buy_at_one_level_buys_what_the_amount_affords_and_pays_no_more(
    venue: SandboxVenue,
) -> None:
    txid = buy_quote(venue, "1000")
    [order] = venue.query_orders(KEY, [txid])
    assert order.volume_in_quote
    assert order.status is OrderState.CLOSED
    assert order.volume == D("1000")
    # floor(1000 / 95000) onto 1e-8 BTC; cost 999.99945 rounds down onto the USD step
    assert order.vol_exec == D("0.01052631")
    assert order.cost == D("999.9994")
    assert order.fee == D("3.9999")
    assert order.remaining == 0
    assert fills_of(venue, txid) == [(D("95000.0"), D("0.01052631"))]
    balances = venue.balances(KEY)
    assert balances["ZUSD"] == D(100_000) - D("999.9994") - D("3.9999")
    assert balances["XXBT"] == D(2) + D("0.01052631")
    assert venue.fee_income() == {"ZUSD": D("3.9999")}


def test_quote_buy_walks_a_second_ask_level_with_what_the_first_left(
    venue: SandboxVenue,
) -> None:
    txid = buy_quote(venue, "60000")
    # 0.5 at 95000.0 costs 47500; 12500 / 95000.5 floored onto the lot is 0.13157825
    assert fills_of(venue, txid) == [
        (D("95000.0"), D("0.5")),
        (D("95000.5"), D("0.13157825")),
    ]
    [order] = venue.query_orders(KEY, [txid])
    assert order.vol_exec == D("0.63157825")
    assert order.cost == D("47500.0") + D("12499.9995")
    assert order.cost <= D("60000")
    assert order.fee == D("190.0000") + D("49.9999")
    assert venue.balances(KEY)["ZUSD"] == D(100_000) - order.cost - order.fee
    assert venue.book("XBTUSD").asks[0] == (D("95000.5"), D("0.5") - D("0.13157825"))


def test_quote_buy_stops_when_the_budget_left_buys_less_than_one_lot() -> None:
    venue = fresh_venue((("100.0", "1"), ("100000.0", "1")))
    txid = buy_quote(venue, "100.0005")
    assert fills_of(venue, txid) == [(D("100.0"), D("1"))]
    [order] = venue.query_orders(KEY, [txid])
    assert order.status is OrderState.CLOSED
    assert order.cost == D("100.0")
    assert venue.book("XBTUSD").asks == ((D("100000.0"), D("1")),)


def test_quote_buy_whose_amount_plus_taker_fee_exceeds_free_quote_is_refused() -> None:
    venue = fresh_venue((("95000.0", "1"),))
    venue.open_account("poor", {"ZUSD": D("1000")})
    with pytest.raises(VenueError) as caught:
        buy_quote(venue, "1000", api_key="poor")
    assert caught.value.error == "EOrder:Insufficient funds"
    # 996.01 x 1.004 = 999.99404 fits
    buy_quote(venue, "996.01", api_key="poor")
    assert venue.balances("poor")["ZUSD"] >= 0


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"volume": "1000.000001"}, "EGeneral:Invalid arguments:volume"),
        ({"volume": "0"}, "EGeneral:Invalid arguments:volume"),
        ({"volume": "-5"}, "EGeneral:Invalid arguments:volume"),
        ({"volume": "0.4"}, "EOrder:Cost minimum not met"),
        ({"volume": "4"}, "EOrder:Order minimum not met"),
        ({"volume": "200000"}, "EOrder:Insufficient funds"),
        ({"side": "sell"}, "EGeneral:Invalid arguments:oflags"),
        ({"order_type": "limit", "price": "95000.0"}, "EGeneral:Invalid arguments:oflags"),
        (
            {"order_type": "stop-loss", "trigger_price": "96000.0"},
            "EGeneral:Invalid arguments:oflags",
        ),
        ({"post_only": True}, "EGeneral:Invalid arguments:oflags"),
        ({"userref": 1, "cl_ord_id": "x"}, "EGeneral:Invalid arguments:cl_ord_id"),
    ],
)
def test_quote_buy_is_refused_with_krakens_error_string(
    venue: SandboxVenue, changes: dict[str, object], error: str
) -> None:
    assert refused(venue, **changes) == error
    assert venue.closed_orders(KEY).count == 0
    assert venue.balances(KEY)["ZUSD"] == D(100_000)


def test_quote_buy_with_a_cl_ord_id_already_open_is_a_duplicate(venue: SandboxVenue) -> None:
    venue.add_order(
        KEY,
        pair="XBTUSD",
        side="buy",
        order_type="limit",
        volume="0.01",
        price="90000.0",
        cl_ord_id="same",
    )
    assert refused(venue, cl_ord_id="same") == "EOrder:Duplicate order"


def test_validate_runs_every_check_and_places_nothing(venue: SandboxVenue) -> None:
    added = venue.add_order(
        KEY,
        pair="XBTUSD",
        side="buy",
        order_type="market",
        volume="1000",
        volume_in_quote=True,
        validate=True,
    )
    assert added.txid is None
    assert added.description == "buy 1000.00000 USD of XBTUSD @ market"
    assert refused(venue, volume="200000", validate=True) == "EOrder:Insufficient funds"
    assert venue.closed_orders(KEY).count == 0
    assert venue.balances(KEY)["ZUSD"] == D(100_000)


def test_quote_buy_meeting_no_asks_is_canceled_with_nothing_filled() -> None:
    venue = fresh_venue()
    txid = buy_quote(venue, "1000")
    [order] = venue.query_orders(KEY, [txid])
    assert order.status is OrderState.CANCELED
    assert order.reason == "Insufficient liquidity"
    assert order.vol_exec == 0 and order.cost == 0
    assert venue.balances(KEY)["ZUSD"] == D(100_000)
    assert venue.open_orders(KEY) == []


def test_quote_buy_that_empties_the_asks_keeps_its_fills_and_cancels_the_rest() -> None:
    venue = fresh_venue((("95000.0", "0.001"), ("95010.0", "0.002")))
    txid = buy_quote(venue, "1000")
    [order] = venue.query_orders(KEY, [txid])
    assert order.status is OrderState.CANCELED
    assert order.reason == "Insufficient liquidity"
    assert order.vol_exec == D("0.003")
    assert fills_of(venue, txid) == [(D("95000.0"), D("0.001")), (D("95010.0"), D("0.002"))]


def test_quote_buy_stops_at_its_own_resting_ask(venue: SandboxVenue) -> None:
    venue.add_order(
        KEY, pair="XBTUSD", side="sell", order_type="limit", volume="0.1", price="94990.0"
    )
    txid = buy_quote(venue, "1000")
    [order] = venue.query_orders(KEY, [txid])
    assert order.status is OrderState.CANCELED
    assert order.reason == "Self trade prevention"
    assert order.vol_exec == 0


def test_quote_buy_reports_its_lifecycle_with_the_quote_flag(venue: SandboxVenue) -> None:
    events: list[VenueEvent] = []
    venue.subscribe(events.append)
    buy_quote(venue, "60000")
    mine = [e for e in events if isinstance(e, ExecutionEvent) and e.api_key == KEY]
    assert [e.exec_type for e in mine] == [
        ExecType.PENDING_NEW,
        ExecType.NEW,
        ExecType.TRADE,
        ExecType.TRADE,
        ExecType.FILLED,
    ]
    assert all(e.order.volume_in_quote and e.order.volume == D("60000") for e in mine)
    assert [e.last_qty for e in mine if e.exec_type is ExecType.TRADE] == [
        D("0.5"),
        D("0.13157825"),
    ]


price_steps = st.integers(min_value=1_000, max_value=2_000_000)  # x 0.1 USD
ask_levels = st.lists(
    st.tuples(price_steps, st.integers(min_value=1, max_value=10**8)),  # qty in lots
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(levels=ask_levels, cents=st.integers(min_value=50, max_value=5_000_000))
def test_quote_buy_never_pays_more_than_its_amount_and_leaves_less_than_a_lot(
    levels: list[tuple[int, int]], cents: int
) -> None:
    venue = fresh_venue(tuple((str(D(tick) / 10), str(D(lots) * LOT)) for tick, lots in levels))
    amount = D(cents) / 100
    best = venue.best_price("XBTUSD", Side.SELL)
    assert best is not None
    if amount / best < D("0.00005"):
        assert refused(venue, volume=str(amount)) == "EOrder:Order minimum not met"
        return
    before = venue.balances(KEY)["ZUSD"]
    txid = buy_quote(venue, str(amount))
    [order] = venue.query_orders(KEY, [txid])
    fills = fills_of(venue, txid)
    notional = sum((price * qty for price, qty in fills), D(0))
    assert order.cost <= notional <= amount
    assert order.vol_exec == sum((qty for _, qty in fills), D(0))
    assert order.fee <= order.cost * TAKER
    assert venue.balances(KEY)["ZUSD"] == before - order.cost - order.fee
    next_ask = venue.best_price("XBTUSD", Side.SELL)
    if next_ask is not None:
        assert amount - notional < next_ask * LOT
    # spent: closed; the asks ran out first: canceled with what filled, like any market order
    assert order.status is (OrderState.CLOSED if next_ask is not None else OrderState.CANCELED)
