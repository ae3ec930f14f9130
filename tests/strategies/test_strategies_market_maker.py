"""market_maker on hand-built ETH/USD books: prices, rounding, skew, limits, requote rationing,
stale books and stop."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from strategy_replay import context_for

from kraken_tui.clock import VirtualClock
from kraken_tui.domain import (
    BookLevel,
    BookSnapshot,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from kraken_tui.strategies import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Intent,
    PlaceOrder,
    StrategyConfigError,
    load_builtin_strategies,
    strategy_registry,
)
from kraken_tui.strategies.market_maker import MarketMaker


def make(**params: object) -> MarketMaker:
    strategy = MarketMaker.from_config("mm_test", "ETH/USD", params, context_for("ETH/USD"))
    assert isinstance(strategy, MarketMaker)
    return strategy


def clock_of(strategy: MarketMaker) -> VirtualClock:
    clock = strategy.context.clock
    assert isinstance(clock, VirtualClock)
    return clock


def book(strategy: MarketMaker, bid: str, ask: str, *, age_s: float = 0.0) -> BookSnapshot:
    snapshot = BookSnapshot(
        symbol="ETH/USD",
        bids=(BookLevel(Decimal(bid), Decimal("3")),),
        asks=(BookLevel(Decimal(ask), Decimal("3")),),
        ts=clock_of(strategy).now() - timedelta(seconds=age_s),
    )
    strategy.context.book = snapshot
    return snapshot


def quotes(intents: object) -> dict[Side, PlaceOrder]:
    assert isinstance(intents, list)
    return {i.side: i for i in intents if isinstance(i, PlaceOrder)}


def cancels(intents: object) -> list[str]:
    assert isinstance(intents, list)
    return [i.cl_ord_id for i in intents if isinstance(i, CancelOrder)]


def amends(intents: object) -> dict[str, AmendOrder]:
    assert isinstance(intents, list)
    return {i.cl_ord_id: i for i in intents if isinstance(i, AmendOrder)}


def accept(strategy: MarketMaker, intents: list[Intent], start: int = 0) -> None:
    """What the engine does with the intents: places the quotes, cancels the cancelled."""
    cancelled = set(cancels(intents))
    kept = [o for o in strategy.open_orders if o.cl_ord_id not in cancelled]
    for number, quote in enumerate(quotes(intents).values(), start=start):
        assert quote.price is not None
        kept.append(
            Order(
                cl_ord_id=f"q{number}",
                symbol="ETH/USD",
                side=quote.side,
                order_type=quote.order_type,
                volume=quote.volume,
                status=OrderStatus.NEW,
                price=quote.price,
                post_only=quote.post_only,
                strategy="mm_test",
            )
        )
    strategy.context.open_orders = tuple(kept)


def test_registered_as_market_maker() -> None:
    load_builtin_strategies()
    assert strategy_registry()["market_maker"] is MarketMaker


def test_quotes_both_sides_post_only_around_mid_bids_rounded_down_asks_up() -> None:
    strategy = make()
    placed = quotes(strategy.on_book(book(strategy, "3500.00", "3500.03")))
    # mid 3500.015, 2 bps = 0.700003: 3499.314997 -> 3499.31 and 3500.715003 -> 3500.72
    assert placed[Side.BUY].price == Decimal("3499.31")
    assert placed[Side.SELL].price == Decimal("3500.72")
    for quote in placed.values():
        assert quote.order_type is OrderType.LIMIT
        assert quote.post_only
        assert quote.tif is TimeInForce.GTC
        assert quote.volume == Decimal("0.1")


def test_quote_size_goes_onto_the_lot_grid() -> None:
    strategy = make(quote_size="0.123456789")
    placed = quotes(strategy.on_book(book(strategy, "3499.99", "3500.01")))
    assert placed[Side.BUY].volume == Decimal("0.12345678")


def test_long_inventory_moves_both_quotes_down_in_proportion() -> None:
    strategy = make()
    strategy.context.position = Position("ETH/USD", qty=Decimal("0.5"))
    placed = quotes(strategy.on_book(book(strategy, "3499.99", "3500.01")))
    # mid 3500, skew 0.5 * 2 bps = 0.35 down, then 0.70 either side
    assert placed[Side.BUY].price == Decimal("3498.95")
    assert placed[Side.SELL].price == Decimal("3500.35")


def test_short_inventory_moves_both_quotes_up() -> None:
    strategy = make()
    strategy.context.position = Position("ETH/USD", qty=Decimal("-0.5"))
    placed = quotes(strategy.on_book(book(strategy, "3499.99", "3500.01")))
    assert placed[Side.BUY].price == Decimal("3499.65")
    assert placed[Side.SELL].price == Decimal("3501.05")


def test_quotes_never_cross_the_touch() -> None:
    strategy = make(half_spread_bps="0.01", skew_bps="10")
    strategy.context.position = Position("ETH/USD", qty=Decimal("-1"))
    bid, ask = strategy.quote_prices(book(strategy, "3499.99", "3500.01"), Decimal(-1))
    assert bid == Decimal("3500.00")  # would be 3503.49, one tick below the best ask instead
    assert ask == Decimal("3503.51")


def test_at_max_inventory_only_the_reducing_side_is_quoted() -> None:
    strategy = make(max_inventory="0.3")
    strategy.context.position = Position("ETH/USD", qty=Decimal("0.3"))
    placed = quotes(strategy.on_book(book(strategy, "3499.99", "3500.01")))
    assert set(placed) == {Side.SELL}
    strategy.context.position = Position("ETH/USD", qty=Decimal("-0.25"))
    clock_of(strategy).advance(2)
    placed = quotes(strategy.on_book(book(strategy, "3499.99", "3500.01")))
    assert set(placed) == {Side.BUY}


def test_reaching_max_inventory_cancels_the_resting_quote_on_that_side() -> None:
    strategy = make(max_inventory="0.3")
    first = strategy.on_book(book(strategy, "3499.99", "3500.01"))
    assert isinstance(first, list)
    accept(strategy, first)
    strategy.context.position = Position("ETH/USD", qty=Decimal("0.3"))
    clock_of(strategy).advance(0.1)
    intents = strategy.on_book(book(strategy, "3499.99", "3500.01"))
    buy_id = next(o.cl_ord_id for o in strategy.open_orders if o.side is Side.BUY)
    assert buy_id in cancels(intents)
    assert quotes(intents) == {}


def test_requotes_only_when_the_price_moves_the_threshold_or_more() -> None:
    strategy = make(requote_threshold_ticks=5)
    first = strategy.on_book(book(strategy, "3499.99", "3500.01"))
    assert isinstance(first, list)
    accept(strategy, first)
    clock_of(strategy).advance(10)
    # mid +3 ticks: bid wants 3499.32 (+2 ticks), ask 3500.74 (+4 ticks): both stay
    assert strategy.on_book(book(strategy, "3500.02", "3500.04")) == []
    # mid +10 ticks: bid wants 3499.39 (+9), ask 3500.81 (+11): both amended in place
    moved = strategy.on_book(book(strategy, "3500.09", "3500.11"))
    assert cancels(moved) == [] and quotes(moved) == {}
    assert {k: a.price for k, a in amends(moved).items()} == {
        "q0": Decimal("3499.39"),
        "q1": Decimal("3500.81"),
    }


def test_a_side_is_not_requoted_within_the_minimum_interval() -> None:
    strategy = make(min_requote_interval_s=1.0)
    first = strategy.on_book(book(strategy, "3499.99", "3500.01"))
    assert isinstance(first, list)
    accept(strategy, first)
    clock_of(strategy).advance(0.5)
    assert strategy.on_book(book(strategy, "3501.99", "3502.01")) == []
    clock_of(strategy).advance(0.5)
    assert len(amends(strategy.on_book(book(strategy, "3501.99", "3502.01")))) == 2


def test_an_amend_in_flight_counts_as_the_quote_and_is_not_sent_twice() -> None:
    strategy = make(min_requote_interval_s=0)
    accept(strategy, list(strategy.on_book(book(strategy, "3499.99", "3500.01")) or []))
    clock_of(strategy).advance(1)
    assert len(amends(strategy.on_book(book(strategy, "3501.99", "3502.01")))) == 2
    clock_of(strategy).advance(1)  # the amends are not yet in the orders' prices
    assert strategy.on_book(book(strategy, "3501.99", "3502.01")) == []
    clock_of(strategy).advance(5)  # never showed up: amended again
    assert len(amends(strategy.on_book(book(strategy, "3501.99", "3502.01")))) == 2


def test_an_unacknowledged_quote_is_replaced_not_amended() -> None:
    strategy = make(min_requote_interval_s=0)
    accept(strategy, list(strategy.on_book(book(strategy, "3499.99", "3500.01")) or []))
    strategy.context.open_orders = tuple(
        o.with_changes(status=OrderStatus.PENDING_NEW) for o in strategy.open_orders
    )
    clock_of(strategy).advance(1)
    moved = strategy.on_book(book(strategy, "3501.99", "3502.01"))
    assert amends(moved) == {} and sorted(cancels(moved)) == ["q0", "q1"]


def test_a_refused_amend_falls_back_to_cancel_and_replace_at_once() -> None:
    strategy = make()
    accept(strategy, list(strategy.on_book(book(strategy, "3499.99", "3500.01")) or []))
    clock_of(strategy).advance(10)
    amended = amends(strategy.on_book(book(strategy, "3501.99", "3502.01")))
    bid = next(o for o in strategy.open_orders if o.side is Side.BUY)
    assert bid.cl_ord_id in amended
    clock_of(strategy).advance(0.1)  # well within min_requote_interval_s
    fallback = strategy.on_amend_rejected(bid, "EOrder:Post only order")
    assert cancels(fallback) == [bid.cl_ord_id]
    assert quotes(fallback)[Side.BUY].price == amended[bid.cl_ord_id].price
    assert amends(fallback) == {}, "the other side's amend is still in flight"
    clock_of(strategy).advance(10)
    accept(strategy, list(fallback or []), start=2)
    replaced = strategy.on_book(book(strategy, "3503.99", "3504.01"))
    assert "q2" in amends(replaced), "the new quote can be amended again"


def test_a_refused_amend_of_an_order_that_has_ended_asks_for_nothing() -> None:
    strategy = make()
    accept(strategy, list(strategy.on_book(book(strategy, "3499.99", "3500.01")) or []))
    filled = strategy.open_orders[0].with_changes(status=OrderStatus.FILLED)
    assert strategy.on_amend_rejected(filled, "EOrder:Unknown order") is None


def test_a_placed_quote_not_yet_in_open_orders_is_not_placed_twice() -> None:
    strategy = make(min_requote_interval_s=0)
    assert len(quotes(strategy.on_book(book(strategy, "3499.99", "3500.01")))) == 2
    clock_of(strategy).advance(1)
    assert strategy.on_book(book(strategy, "3499.99", "3500.01")) == []
    clock_of(strategy).advance(5)  # never showed up: placed again
    assert len(quotes(strategy.on_book(book(strategy, "3499.99", "3500.01")))) == 2


def test_a_rejected_quote_frees_its_side_at_once() -> None:
    strategy = make(min_requote_interval_s=0)
    placed = quotes(strategy.on_book(book(strategy, "3499.99", "3500.01")))
    bid = placed[Side.BUY]
    assert bid.price is not None
    rejected = Order(
        "q9",
        "ETH/USD",
        Side.BUY,
        OrderType.LIMIT,
        bid.volume,
        OrderStatus.REJECTED,
        price=bid.price,
        post_only=True,
    )
    assert strategy.on_order_update(rejected) is None
    clock_of(strategy).advance(0.1)
    assert set(quotes(strategy.on_book(book(strategy, "3499.99", "3500.01")))) == {Side.BUY}


def test_a_stale_book_pulls_every_quote() -> None:
    strategy = make()
    first = strategy.on_book(book(strategy, "3499.99", "3500.01"))
    assert isinstance(first, list)
    accept(strategy, first)
    clock_of(strategy).advance(6)  # book is now 6 s old, stale_after_s is 5
    assert sorted(cancels(strategy.on_timer(clock_of(strategy).now()))) == ["q0", "q1"]
    assert strategy.signal == "not quoting: no fresh book"


def test_a_book_flagged_stale_pulls_every_quote() -> None:
    strategy = make()
    first = strategy.on_book(book(strategy, "3499.99", "3500.01"))
    assert isinstance(first, list)
    accept(strategy, first)
    flagged = BookSnapshot("ETH/USD", (), (), stale=True)
    assert sorted(cancels(strategy.on_book(flagged))) == ["q0", "q1"]


def test_a_fresh_book_leaves_the_timer_quiet() -> None:
    strategy = make()
    book(strategy, "3499.99", "3500.01")
    assert strategy.on_timer(clock_of(strategy).now()) is None


def test_stop_cancels_all_its_orders() -> None:
    strategy = make()
    assert strategy.on_stop() == [CancelAll()]


def test_signal_shows_both_quotes_and_inventory() -> None:
    strategy = make()
    strategy.on_book(book(strategy, "3499.99", "3500.01"))
    assert strategy.signal == "3499.30 / 3500.70, inventory 0 of ±1"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"quote_size": "0.001"}, "params.quote_size"),  # ETH/USD ordermin is 0.002
        ({"quote_size": "2", "max_inventory": "1"}, "params.max_inventory"),
        ({"half_spread_bps": "0"}, "params.half_spread_bps"),
        ({"requote_threshold_ticks": 0}, "params.requote_threshold_ticks"),
    ],
)
def test_invalid_parameters_are_refused_naming_the_field(
    params: dict[str, object], field: str
) -> None:
    with pytest.raises(StrategyConfigError, match=field):
        MarketMaker.from_config("bad", "ETH/USD", params, context_for("ETH/USD"))
