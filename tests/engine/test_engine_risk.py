from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kraken_tui.clock import VirtualClock
from kraken_tui.domain import (
    BookLevel,
    BookSnapshot,
    Instrument,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TradingState,
)
from kraken_tui.engine.risk import ProposedOrder, RiskContext, RiskLimits, RiskManager
from kraken_tui.settings import RiskSettings

D = Decimal
BTC = Instrument(
    symbol="BTC/USD",
    base="BTC",
    quote="USD",
    price_decimals=1,
    lot_decimals=8,
    tick_size=D("0.1"),
    ordermin=D("0.0001"),
    costmin=D("0.5"),
)
BOOK = BookSnapshot(
    "BTC/USD", bids=(BookLevel(D("49990"), D(1)),), asks=(BookLevel(D("50010"), D(1)),)
)
LIMITS = RiskLimits(
    max_order_notional=D("10000"),
    max_position_per_symbol=D("20000"),
    max_position_per_strategy=D("15000"),
    max_open_orders=3,
    price_band_pct=D("5"),
    daily_loss_limit=D("1000"),
    max_drawdown_pct=D("10"),
    max_orders_per_minute=5,
)


def _buy(volume: str = "0.1", price: str | None = "50000", **kw: object) -> ProposedOrder:
    return ProposedOrder(
        symbol="BTC/USD",
        side=kw.pop("side", Side.BUY),  # type: ignore[arg-type]
        order_type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        volume=D(volume),
        price=None if price is None else D(price),
        strategy=kw.pop("strategy", "s1"),  # type: ignore[arg-type]
    )


def _open(n: int, side: Side = Side.BUY, volume: str = "0.01", strategy: str = "s1") -> Order:
    return Order(
        cl_ord_id=f"c{n}",
        symbol="BTC/USD",
        side=side,
        order_type=OrderType.LIMIT,
        volume=D(volume),
        status=OrderStatus.NEW,
        price=D("49000"),
        strategy=strategy,
    )


def _ctx(
    qty: str = "0",
    strategy_qty: str = "0",
    orders: tuple[Order, ...] = (),
    book: BookSnapshot | None = BOOK,
) -> RiskContext:
    return RiskContext(
        instrument=BTC,
        book=book,
        symbol_position=Position("BTC/USD", qty=D(qty)),
        strategy_position=Position("BTC/USD", qty=D(strategy_qty), strategy="s1"),
        open_orders=orders,
    )


@pytest.fixture
def risk() -> RiskManager:
    return RiskManager(LIMITS, VirtualClock())


def test_order_within_every_limit_is_allowed(risk: RiskManager) -> None:
    assert risk.check(_buy(), _ctx()).allowed


def test_max_order_notional_denial_states_value_and_limit(risk: RiskManager) -> None:
    decision = risk.check(_buy("0.3"), _ctx())
    assert decision.rule == "max_order_notional"
    assert decision.reason == "order value 15000 exceeds the limit of 10000"


def test_market_order_notional_is_valued_at_mid(risk: RiskManager) -> None:
    decision = risk.check(_buy("0.25", price=None), _ctx())
    assert decision.rule == "max_order_notional"
    assert "12500" in decision.reason


def test_market_order_without_a_book_is_denied(risk: RiskManager) -> None:
    decision = risk.check(_buy(price=None), _ctx(book=None))
    assert decision.rule == "no_reference_price"


def test_stale_book_denies_orders(risk: RiskManager) -> None:
    stale = BookSnapshot("BTC/USD", BOOK.bids, BOOK.asks, stale=True)
    assert risk.check(_buy(), _ctx(book=stale)).rule == "stale_book"


def test_price_band_denies_fat_finger_price(risk: RiskManager) -> None:
    decision = risk.check(_buy("0.1", "56000"), _ctx())
    assert decision.rule == "price_band"
    assert decision.reason == "price 56000 is 12% from mid 50000 (band 5%)"


def test_off_tick_price_is_denied(risk: RiskManager) -> None:
    decision = risk.check(_buy("0.1", "50000.05"), _ctx())
    assert decision.rule == "instrument_minimum"
    assert "not on the BTC/USD tick of 0.1" in decision.reason


def test_volume_below_ordermin_is_denied(risk: RiskManager) -> None:
    decision = risk.check(_buy("0.00005"), _ctx())
    assert decision.rule == "instrument_minimum"
    assert decision.reason == "volume 0.00005 is below the BTC/USD minimum of 0.0001"


def test_volume_with_too_many_decimals_is_denied(risk: RiskManager) -> None:
    assert risk.check(_buy("0.123456789"), _ctx()).rule == "instrument_minimum"


def test_cost_below_costmin_is_denied() -> None:
    cheap = BookSnapshot(
        "BTC/USD", bids=(BookLevel(D("1"), D(1)),), asks=(BookLevel(D("1.2"), D(1)),)
    )
    risk = RiskManager(RiskLimits(), VirtualClock())
    decision = risk.check(_buy("0.2", "1.1"), _ctx(book=cheap))
    assert decision.rule == "instrument_minimum"
    assert "cost minimum of 0.5" in decision.reason


def test_max_open_orders_counts_every_open_order(risk: RiskManager) -> None:
    decision = risk.check(_buy(), _ctx(orders=(_open(1), _open(2), _open(3))))
    assert decision.rule == "max_open_orders"
    assert decision.reason == "3 orders already open (limit 3)"


def test_symbol_position_limit_counts_open_same_side_orders(risk: RiskManager) -> None:
    orders = (_open(1, volume="0.1", strategy="other"),)
    decision = risk.check(_buy("0.1"), _ctx(qty="0.25", orders=orders))
    assert decision.rule == "max_position_symbol"
    assert "would reach 0.45" in decision.reason and "limit 20000" in decision.reason


def test_strategy_position_limit_only_counts_its_own_exposure(risk: RiskManager) -> None:
    decision = risk.check(_buy("0.1"), _ctx(qty="0.25", strategy_qty="0.25"))
    assert decision.rule == "max_position_strategy"
    assert "strategy s1 BTC/USD position would reach 0.35" in decision.reason


def test_position_reducing_order_passes_position_limits(risk: RiskManager) -> None:
    assert risk.check(_buy("0.1", side=Side.SELL), _ctx(qty="0.5", strategy_qty="0.5")).allowed


def test_order_rate_throttle_uses_a_sliding_minute() -> None:
    clock = VirtualClock()
    risk = RiskManager(LIMITS, clock)
    for _ in range(5):
        assert risk.check(_buy("0.01"), _ctx()).allowed
    denied = risk.check(_buy("0.01"), _ctx())
    assert denied.rule == "order_rate"
    assert denied.reason == "5 orders in the last minute (limit 5)"
    clock.advance(61)
    assert risk.check(_buy("0.01"), _ctx()).allowed


def test_daily_loss_breach_is_reported_and_denies_new_exposure(risk: RiskManager) -> None:
    breach = risk.update_pnl(D("-1200"), D("2"))
    assert breach is not None and breach.rule == "daily_loss"
    assert breach.reason == "daily PnL -1200 breaches the loss limit of 1000"
    assert risk.check(_buy(), _ctx()).rule == "daily_loss"
    assert risk.check(_buy(side=Side.SELL), _ctx(qty="0.5")).allowed


def test_drawdown_breach_is_reported(risk: RiskManager) -> None:
    breach = risk.update_pnl(D("0"), D("12.346"))
    assert breach is not None and breach.rule == "max_drawdown"
    assert breach.reason == "drawdown 12.35% from peak equity reaches the limit of 10%"


def test_halted_denies_every_order(risk: RiskManager) -> None:
    risk.set_trading_state(TradingState.HALTED, "kill switch: manual")
    decision = risk.check(_buy(side=Side.SELL), _ctx(qty="1"))
    assert decision.rule == "trading_state"
    assert "HALTED (kill switch: manual)" in decision.reason


def test_reducing_allows_only_position_reducing_orders(risk: RiskManager) -> None:
    risk.set_trading_state(TradingState.REDUCING, "operator")
    assert risk.check(_buy("0.1", side=Side.SELL), _ctx(qty="0.2")).allowed
    flip = risk.check(_buy("0.3", side=Side.SELL), _ctx(qty="0.2"))
    assert flip.rule == "trading_state"
    assert risk.check(_buy("0.1"), _ctx(qty="0.2")).rule == "trading_state"


def test_denials_are_counted_in_the_snapshot_but_previews_are_not(risk: RiskManager) -> None:
    before = risk.snapshot
    assert not risk.evaluate(_buy("1"), _ctx()).allowed
    assert risk.snapshot is before
    risk.check(_buy("1"), _ctx())
    assert risk.snapshot is not before
    assert risk.snapshot.denials == 1
    assert risk.snapshot.last_denial is not None
    assert risk.snapshot.last_denial.startswith("s1: max_order_notional")


def test_zero_limit_disables_its_rule() -> None:
    risk = RiskManager(RiskLimits(), VirtualClock())
    assert risk.check(_buy("5"), _ctx()).allowed


def test_limits_map_from_settings() -> None:
    limits = RiskLimits.from_settings(RiskSettings(max_open_orders=7))
    assert limits.max_open_orders == 7
    assert limits.max_order_notional == RiskSettings().max_order_notional


def test_decision_time_is_taken_from_the_injected_clock() -> None:
    clock = VirtualClock(datetime(2026, 3, 1, tzinfo=UTC))
    risk = RiskManager(RiskLimits(max_orders_per_minute=1), clock)
    assert risk.check(_buy("0.01"), _ctx()).allowed
    clock.advance(59.9)
    assert risk.check(_buy("0.01"), _ctx()).rule == "order_rate"


def test_nearing_a_loss_limit_turns_trading_reducing_and_clearing_it_turns_it_back() -> None:
    risk = RiskManager(
        RiskLimits(daily_loss_limit=D("100"), max_drawdown_pct=D("20"), reduce_at_pct=D("80")),
        VirtualClock(),
    )
    assert risk.update_pnl(D("-79"), D("0")) is None
    assert risk.trading_state is TradingState.ACTIVE
    assert risk.update_pnl(D("-80"), D("0")) is None
    assert risk.trading_state is TradingState.REDUCING
    assert "80% of the loss limit of 100" in risk.snapshot.reason
    assert risk.update_pnl(D("-10"), D("16.5")) is None  # now the drawdown is near its limit
    assert risk.trading_state is TradingState.REDUCING
    assert risk.update_pnl(D("-10"), D("5")) is None
    assert risk.trading_state is TradingState.ACTIVE
    breach = risk.update_pnl(D("-100"), D("5"))
    assert breach is not None and breach.rule == "daily_loss"


def test_a_reducing_state_set_by_an_operator_is_not_lifted_automatically() -> None:
    risk = RiskManager(RiskLimits(daily_loss_limit=D("100"), reduce_at_pct=D("80")), VirtualClock())
    risk.set_trading_state(TradingState.REDUCING, "operator: flatten before the close")
    risk.update_pnl(D("0"), D("0"))
    assert risk.trading_state is TradingState.REDUCING


# -- market buys sized in quote (viqc): judged as the base their amount buys at the best ask ----


def _quote_buy(amount: str, strategy: str = "s1") -> ProposedOrder:
    return ProposedOrder(
        symbol="BTC/USD",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        volume=D(0),
        quote_volume=D(amount),
        strategy=strategy,
    )


def _open_quote_buy(amount: str, filled: str = "0", avg_price: str | None = None) -> Order:
    return Order(
        cl_ord_id="q1",
        symbol="BTC/USD",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        volume=D(0),
        status=OrderStatus.PARTIALLY_FILLED if filled != "0" else OrderStatus.NEW,
        filled=D(filled),
        avg_price=None if avg_price is None else D(avg_price),
        strategy="other",
        quote_volume=D(amount),
    )


def test_quote_buy_within_every_limit_is_allowed(risk: RiskManager) -> None:
    assert risk.check(_quote_buy("1000"), _ctx()).allowed


def test_quote_buy_order_value_is_its_amount_not_a_valuation(risk: RiskManager) -> None:
    assert risk.check(_quote_buy("10000"), _ctx()).allowed
    decision = risk.check(_quote_buy("10000.5"), _ctx())
    assert decision.rule == "max_order_notional"
    assert decision.reason == "order value 10000.5 USD exceeds the limit of 10000"


def test_quote_buy_without_a_book_is_denied_for_want_of_a_price(risk: RiskManager) -> None:
    decision = risk.check(_quote_buy("1000"), _ctx(book=None))
    assert decision.rule == "no_reference_price"
    assert decision.reason == (
        "no BTC/USD ask or mid price to estimate the base volume of buy 1000 USD"
    )


def test_quote_buy_amount_off_the_cost_grid_is_denied() -> None:
    cents = RiskContext(
        instrument=replace(BTC, cost_decimals=2),
        book=BOOK,
        symbol_position=Position("BTC/USD"),
        strategy_position=None,
        open_orders=(),
    )
    risk = RiskManager(LIMITS, VirtualClock())
    decision = risk.check(_quote_buy("1000.005"), cents)
    assert decision.rule == "instrument_minimum"
    assert decision.reason == "amount 1000.005 USD has more than 2 decimals"
    assert risk.check(_quote_buy("1000.01"), cents).allowed


def test_quote_buy_below_the_cost_minimum_is_denied(risk: RiskManager) -> None:
    decision = risk.check(_quote_buy("0.4"), _ctx())
    assert decision.rule == "instrument_minimum"
    assert decision.reason == "amount 0.4 USD is below the BTC/USD cost minimum of 0.5"


def test_quote_buy_that_buys_less_than_the_order_minimum_at_the_ask_is_denied(
    risk: RiskManager,
) -> None:
    decision = risk.check(_quote_buy("4"), _ctx())
    assert decision.rule == "instrument_minimum"
    assert decision.reason == (
        "amount 4 USD buys about 0.00007998, below the BTC/USD minimum of 0.0001"
    )
    assert risk.check(_quote_buy("5.01"), _ctx()).allowed


def test_quote_buy_counts_its_estimated_base_against_the_symbol_limit(risk: RiskManager) -> None:
    assert risk.check(_quote_buy("4000"), _ctx(qty="0.3")).allowed
    decision = risk.check(_quote_buy("6000"), _ctx(qty="0.3"))
    assert decision.rule == "max_position_symbol"
    assert decision.reason == (
        "BTC/USD position would reach 0.419976 (value 20998.8, limit 20000) counting open orders"
    )


def test_quote_buy_counts_its_estimated_base_against_the_strategy_limit(
    risk: RiskManager,
) -> None:
    decision = risk.check(_quote_buy("6000"), _ctx(qty="0.2", strategy_qty="0.2"))
    assert decision.rule == "max_position_strategy"
    assert "strategy s1 BTC/USD position would reach 0.319976" in decision.reason
    assert "(value 15998.8, limit 15000)" in decision.reason


def test_open_quote_buys_count_as_the_base_their_unspent_amount_buys(risk: RiskManager) -> None:
    assert risk.check(_buy("0.1"), _ctx(qty="0.25")).allowed
    unfilled = (_open_quote_buy("5000"),)
    decision = risk.check(_buy("0.1"), _ctx(qty="0.25", orders=unfilled))
    assert decision.rule == "max_position_symbol"
    assert "would reach 0.44998" in decision.reason
    half_spent = (_open_quote_buy("5000", filled="0.05", avg_price="50010"),)
    assert risk.check(_buy("0.1"), _ctx(qty="0.25", orders=half_spent)).allowed


def test_quote_buy_counts_against_max_open_orders(risk: RiskManager) -> None:
    decision = risk.check(_quote_buy("1000"), _ctx(orders=(_open(1), _open(2), _open(3))))
    assert decision.rule == "max_open_orders"
    assert decision.reason == "3 orders already open (limit 3)"


def test_quote_buys_use_the_order_rate_budget(risk: RiskManager) -> None:
    for _ in range(5):
        assert risk.check(_quote_buy("100"), _ctx()).allowed
    assert risk.check(_quote_buy("100"), _ctx()).rule == "order_rate"


def test_reducing_allows_a_quote_buy_only_when_its_estimate_fits_inside_a_short(
    risk: RiskManager,
) -> None:
    risk.set_trading_state(TradingState.REDUCING, "operator")
    assert risk.check(_quote_buy("2000"), _ctx(qty="-0.1")).allowed
    too_big = risk.check(_quote_buy("6000"), _ctx(qty="-0.1"))
    assert too_big.rule == "trading_state"
    assert too_big.reason == (
        "trading is REDUCING: buy 6000 USD (about 0.119976 BTC) would not reduce the BTC/USD "
        "position of -0.1"
    )
    assert risk.check(_quote_buy("100"), _ctx(qty="0.2")).rule == "trading_state"


def test_reducing_denies_a_quote_buy_it_cannot_estimate(risk: RiskManager) -> None:
    risk.set_trading_state(TradingState.REDUCING, "operator")
    decision = risk.check(_quote_buy("100"), _ctx(qty="-0.1", book=None))
    assert decision.rule == "trading_state"
    assert "buy 100 USD would not reduce" in decision.reason


# -- what open orders already take off a position is not left to reduce ------------------------


def _reducing_only() -> RiskManager:
    """Every limit off, trading REDUCING: only the state rule can deny."""
    risk = RiskManager(RiskLimits(), VirtualClock())
    risk.set_trading_state(TradingState.REDUCING, "operator")
    return risk


def test_ten_sells_of_a_whole_long_are_not_all_reducing() -> None:
    risk = _reducing_only()
    working: list[Order] = []
    for n in range(10):
        if risk.check(_buy("1", side=Side.SELL), _ctx(qty="1", orders=tuple(working))).allowed:
            working.append(_open(n, Side.SELL, volume="1"))
    assert len(working) == 1
    decision = risk.check(_buy("1", side=Side.SELL), _ctx(qty="1", orders=tuple(working)))
    assert decision.rule == "trading_state"
    assert decision.reason == (
        "trading is REDUCING: sell 1 would not reduce the BTC/USD position of 1: open sell "
        "orders already take 1 off it, leaving 0 to reduce"
    )


def test_reducing_allows_only_what_open_orders_leave_of_the_position() -> None:
    risk = _reducing_only()
    working = (_open(1, Side.SELL, volume="0.4", strategy="other"),)
    assert risk.check(_buy("0.6", side=Side.SELL), _ctx(qty="1", orders=working)).allowed
    partly = risk.check(_buy("0.8", side=Side.SELL), _ctx(qty="1", orders=working))
    assert partly.rule == "trading_state"
    assert partly.reason == (
        "trading is REDUCING: sell 0.8 would not reduce the BTC/USD position of 1: open sell "
        "orders already take 0.4 off it, leaving 0.6 to reduce"
    )


def test_only_the_unfilled_rest_of_open_orders_against_the_position_is_pending() -> None:
    risk = _reducing_only()
    half_filled = replace(
        _open(1, Side.SELL, volume="0.8"), filled=D("0.5"), status=OrderStatus.PARTIALLY_FILLED
    )
    growing = _open(2, Side.BUY, volume="5")
    elsewhere = replace(_open(3, Side.SELL, volume="5"), symbol="ETH/USD")
    orders = (half_filled, growing, elsewhere)
    assert risk.check(_buy("0.2", side=Side.SELL), _ctx(qty="0.5", orders=orders)).allowed
    assert risk.check(_buy("0.3", side=Side.SELL), _ctx(qty="0.5", orders=orders)).rule == (
        "trading_state"
    )


def test_open_quote_buys_count_against_a_short_at_what_their_amount_buys() -> None:
    risk = _reducing_only()
    working = (_open_quote_buy("2501"),)  # about 0.05001 BTC at the 50010 ask
    assert risk.check(_buy("0.04999", side=Side.BUY), _ctx(qty="-0.1", orders=working)).allowed
    assert risk.check(_buy("0.05", side=Side.BUY), _ctx(qty="-0.1", orders=working)).rule == (
        "trading_state"
    )
    unpriced = risk.check(_buy("0.01", side=Side.BUY), _ctx(qty="-0.1", orders=working, book=None))
    assert unpriced.rule == "trading_state"


def test_an_order_beyond_what_is_left_to_reduce_meets_the_position_limits(
    risk: RiskManager,
) -> None:
    working = (
        _open(1, Side.SELL, volume="0.25", strategy="other"),
        _open(2, Side.SELL, volume="0.25", strategy="other"),
    )
    decision = risk.check(_buy("0.2", side=Side.SELL), _ctx(qty="0.2", orders=working))
    assert decision.rule == "max_position_symbol"
    assert decision.reason == (
        "BTC/USD position would reach 0.5 (value 25000, limit 20000) counting open orders"
    )


def test_an_order_beyond_what_is_left_to_reduce_is_denied_past_the_loss_limit(
    risk: RiskManager,
) -> None:
    risk.update_pnl(D("-1200"), D("2"))
    working = (_open(1, Side.SELL, volume="0.5", strategy="other"),)
    assert risk.check(_buy("0.1", side=Side.SELL), _ctx(qty="0.5")).allowed
    assert risk.check(_buy("0.1", side=Side.SELL), _ctx(qty="0.5", orders=working)).rule == (
        "daily_loss"
    )


# -- a market order has no price ----------------------------------------------------------------


def test_a_market_order_carrying_a_price_is_refused(risk: RiskManager) -> None:
    cheap = replace(_buy("10", price=None), price=D("1"))
    decision = risk.check(cheap, _ctx())
    assert decision.rule == "market_with_price"
    assert (
        decision.reason == "a market order takes no price, but this buy of BTC/USD carries price 1"
    )


def test_a_market_order_carrying_a_trigger_price_is_refused(risk: RiskManager) -> None:
    triggered = replace(_buy("0.1", price=None), trigger_price=D("50000"))
    decision = risk.check(triggered, _ctx())
    assert decision.rule == "market_with_price"
    assert "takes no trigger price" in decision.reason


def test_an_amended_order_counts_only_its_unfilled_part_against_position_limits(
    risk: RiskManager,
) -> None:
    # 0.15 of the order has filled into the strategy's position: amended to 0.2 in all, only
    # 0.05 more can fill, so the strategy reaches 0.2 (10,000), not 0.35 (17,500 > 15,000)
    amended = replace(_buy("0.2"), filled=D("0.15"))
    assert risk.check(amended, _ctx(qty="0.15", strategy_qty="0.15")).allowed
    fresh = risk.check(_buy("0.2"), _ctx(qty="0.15", strategy_qty="0.15"))
    assert fresh.rule == "max_position_strategy", "a new order of 0.2 would add all of it"
