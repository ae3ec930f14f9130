"""Matching engine: price-time priority on the book itself, and property tests over random
sequences of orders, amends, cancels and synthetic flow on the whole venue."""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.errors import VenueError
from kraken_tui.sandbox.events import ExecutionEvent, VenueEvent
from kraken_tui.sandbox.matching import LiveOrder, OrderBook
from kraken_tui.sandbox.records import OrderState, VenueOrderType
from kraken_tui.sandbox.venue import SandboxVenue

D = Decimal
ACCOUNTS = ("a", "b", "c")
FUNDING = {"ZUSD": D(200_000), "XXBT": D(3), "XETH": D(40), "SOL": D(100)}
PAIRS = {
    "BTC/USD": (D("95000.0"), D("0.1"), D("0.001")),
    "ETH/BTC": (D("0.03684"), D("0.00001"), D("0.01")),
}


def resting(txid: str, side: Side, price: str, qty: str) -> LiveOrder:
    return LiveOrder(
        txid=txid,
        api_key="k",
        symbol="BTC/USD",
        rest_pair="XBTUSD",
        side=side,
        order_type=VenueOrderType.LIMIT,
        volume=D(qty),
        price=D(price),
        trigger_price=None,
        opentm=0.0,
        status=OrderState.OPEN,
    )


def test_book_orders_by_best_price_then_arrival() -> None:
    changes: list[tuple[Side, Decimal, Decimal]] = []
    book = OrderBook("BTC/USD", lambda _s, side, price, qty: changes.append((side, price, qty)))
    book.add(resting("late", Side.BUY, "100.0", "1"))
    book.add(resting("early-better", Side.BUY, "100.5", "1"))
    book.add(resting("later", Side.BUY, "100.0", "2"))
    first = book.first(Side.BUY)
    assert first is not None and first.txid == "early-better"
    assert book.top(Side.BUY, 5) == ((D("100.5"), D("1")), (D("100.0"), D("3")))
    book.remove(first)
    second = book.first(Side.BUY)
    assert second is not None and second.txid == "late"
    assert changes[-1] == (Side.BUY, D("100.5"), D("0"))


def test_book_reduce_keeps_place_and_reports_the_new_level_quantity() -> None:
    changes: list[tuple[Side, Decimal, Decimal]] = []
    book = OrderBook("BTC/USD", lambda _s, side, price, qty: changes.append((side, price, qty)))
    front = resting("front", Side.SELL, "101.0", "2")
    book.add(front)
    book.add(resting("back", Side.SELL, "101.0", "1"))
    front.vol_exec = D("1.5")
    book.reduce(front, D("1.5"))
    assert book.first(Side.SELL) is front
    assert changes[-1] == (Side.SELL, D("101.0"), D("1.5"))
    front.vol_exec = D("2")
    book.reduce(front, D("0.5"))
    first = book.first(Side.SELL)
    assert first is not None and first.txid == "back"
    assert not front.in_book


def test_book_is_crossed_only_when_best_bid_reaches_best_ask() -> None:
    book = OrderBook("BTC/USD", lambda *_: None)
    book.add(resting("b", Side.BUY, "100.0", "1"))
    book.add(resting("s", Side.SELL, "100.1", "1"))
    assert not book.is_crossed()
    book.add(resting("x", Side.BUY, "100.1", "1"))
    assert book.is_crossed()


# ---- property tests on the venue --------------------------------------------------------

ticks = st.integers(min_value=-25, max_value=25)
lots = st.integers(min_value=1, max_value=400)
sides = st.sampled_from([Side.BUY, Side.SELL])
symbols = st.sampled_from(sorted(PAIRS))
accounts = st.sampled_from(ACCOUNTS)

operation = st.one_of(
    st.tuples(
        st.just("limit"), accounts, symbols, sides, ticks, lots, st.booleans(), st.booleans()
    ),
    st.tuples(st.just("market"), accounts, symbols, sides, lots),
    st.tuples(
        st.just("stop"),
        accounts,
        symbols,
        sides,
        ticks,
        lots,
        st.sampled_from(["stop-loss", "take-profit", "stop-loss-limit"]),
    ),
    st.tuples(st.just("cancel"), accounts, st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("amend"), accounts, st.integers(min_value=0, max_value=20), lots, ticks),
    st.tuples(st.just("cancel_all"), accounts),
    st.tuples(st.just("quote"), symbols, sides, ticks, lots),
    st.tuples(st.just("take"), symbols, sides, lots, st.one_of(st.none(), ticks)),
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def price_at(symbol: str, offset: int) -> Decimal:
    mid, tick, _ = PAIRS[symbol]
    return mid + tick * offset


def qty_of(symbol: str, units: int) -> Decimal:
    return PAIRS[symbol][2] * units


def build_venue() -> SandboxVenue:
    venue = SandboxVenue(clock=Clock(), id_seed=1)
    for key in ACCOUNTS:
        venue.open_account(key, FUNDING)
    for symbol in PAIRS:
        for level in range(1, 6):
            venue.place_synthetic(symbol, Side.BUY, price_at(symbol, -level), qty_of(symbol, 50))
            venue.place_synthetic(symbol, Side.SELL, price_at(symbol, level), qty_of(symbol, 50))
    return venue


def apply(venue: SandboxVenue, op: tuple[Any, ...]) -> None:
    kind = op[0]
    try:
        if kind == "limit":
            _, key, symbol, side, offset, units, post_only, ioc = op
            venue.add_order(
                key,
                pair=symbol,
                side=side,
                order_type="limit",
                volume=qty_of(symbol, units),
                price=price_at(symbol, offset),
                post_only=bool(post_only) and not ioc,
                time_in_force="ioc" if ioc else "gtc",
            )
        elif kind == "market":
            _, key, symbol, side, units = op
            venue.add_order(
                key,
                pair=symbol,
                side=side,
                order_type="market",
                volume=qty_of(symbol, units),
            )
        elif kind == "stop":
            _, key, symbol, side, offset, units, order_type = op
            venue.add_order(
                key,
                pair=symbol,
                side=side,
                order_type=order_type,
                volume=qty_of(symbol, units),
                trigger_price=price_at(symbol, offset),
                price=price_at(symbol, offset),
            )
        elif kind == "cancel":
            _, key, index = op
            orders = venue.open_orders(key)
            if orders:
                venue.cancel_order(key, txid=orders[index % len(orders)].txid)
        elif kind == "amend":
            _, key, index, units, offset = op
            orders = venue.open_orders(key)
            if orders:
                order = orders[index % len(orders)]
                venue.amend_order(
                    key,
                    txid=order.txid,
                    order_qty=order.vol_exec + qty_of(order.symbol, units),
                    limit_price=price_at(order.symbol, offset) if order.price else None,
                )
        elif kind == "cancel_all":
            venue.cancel_all(op[1])
        elif kind == "quote":
            _, symbol, side, offset, units = op
            venue.place_synthetic(
                symbol,
                side,
                price_at(symbol, offset),
                qty_of(symbol, units),
            )
        elif kind == "take":
            _, symbol, side, units, offset = op
            venue.take_synthetic(
                symbol,
                side,
                qty_of(symbol, units),
                None if offset is None else price_at(symbol, offset),
            )
    except VenueError:
        pass


def totals(venue: SandboxVenue) -> dict[str, Decimal]:
    summed: dict[str, Decimal] = defaultdict(Decimal)
    for key in ACCOUNTS:
        for asset, amount in venue.balances(key).items():
            summed[asset] += amount
    for asset, amount in venue.market_balances().items():
        summed[asset] += amount
    for asset, amount in venue.fee_income().items():
        summed[asset] += amount
    return {asset: amount for asset, amount in summed.items() if amount}


def check_invariants(venue: SandboxVenue, initial: dict[str, Decimal]) -> None:
    assert totals(venue) == initial
    for symbol in PAIRS:
        bid = venue.best_price(symbol, Side.BUY)
        ask = venue.best_price(symbol, Side.SELL)
        assert bid is None or ask is None or bid < ask, f"{symbol} crossed: {bid} >= {ask}"
    for key in ACCOUNTS:
        open_orders = venue.open_orders(key)
        for entry in venue.balances_ex(key).values():
            assert entry.hold_trade >= 0
            assert entry.balance >= 0
            assert entry.available >= 0, f"{key} {entry}"
        if not open_orders:
            assert all(e.hold_trade == 0 for e in venue.balances_ex(key).values())
        for order in open_orders + list(venue.closed_orders(key, limit=10_000).items):
            assert 0 <= order.vol_exec <= order.volume
        for fill in venue.trades_history(key, limit=10_000).items:
            assert fill.vol > 0 and fill.fee >= 0


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(operation, min_size=5, max_size=60))
def test_balances_plus_fees_are_conserved_and_the_book_never_crosses(
    operations: list[tuple[Any, ...]],
) -> None:
    venue = build_venue()
    initial = totals(venue)
    for op in operations:
        apply(venue, op)
        check_invariants(venue, initial)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=5, max_size=60))
def test_fills_reported_in_events_add_up_to_each_orders_executed_volume(
    operations: list[tuple[Any, ...]],
) -> None:
    venue = build_venue()
    events: list[VenueEvent] = []
    venue.subscribe(events.append)
    for op in operations:
        apply(venue, op)
    filled: dict[str, Decimal] = defaultdict(Decimal)
    for event in events:
        if isinstance(event, ExecutionEvent) and event.last_qty is not None:
            filled[event.order.txid] += event.last_qty
    for key in ACCOUNTS:
        for order in venue.open_orders(key) + list(venue.closed_orders(key, limit=10_000).items):
            assert filled.get(order.txid, D(0)) == order.vol_exec
            assert order.vol_exec <= order.volume
