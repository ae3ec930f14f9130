"""sma_cross on hand-computed series: which bar buys, which bar sells, and what never trades."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from strategy_replay import START, candle, context_for, replay

from kraken_tui.domain import Order, OrderStatus, OrderType, Position, Side
from kraken_tui.strategies import (
    CancelAll,
    PlaceOrder,
    StrategyConfigError,
    load_builtin_strategies,
    strategy_registry,
)
from kraken_tui.strategies.sma_cross import SmaCross

# fast SMA(2) vs slow SMA(4), in thousands of USD:
#   bar 3: fast 10.5 < slow 11.5; bar 4: 9.5 < 10.5; bar 5: 11 > 10.75 -> golden cross
#   bars 6-8: fast stays above; bar 9: fast 15.5 < slow 16 -> death cross
CROSSING = [13000, 12000, 11000, 10000, 9000, 13000, 15000, 18000, 17000, 14000, 11000, 8000]
GOLDEN_BAR, DEATH_BAR = 5, 9


def make(**params: object) -> SmaCross:
    raw = {"fast": 2, "slow": 4, "volume": "0.01", **params}
    strategy = SmaCross.from_config("sma_test", "BTC/USD", raw, context_for("BTC/USD"))
    assert isinstance(strategy, SmaCross)
    return strategy


def test_registered_as_sma_cross() -> None:
    load_builtin_strategies()
    assert strategy_registry()["sma_cross"] is SmaCross


def test_buys_on_the_golden_cross_bar_and_sells_the_position_on_the_death_cross_bar() -> None:
    strategy = make()
    traded = replay(strategy, CROSSING)
    assert [(t.index, t.order.side, t.order.volume) for t in traded] == [
        (GOLDEN_BAR, Side.BUY, Decimal("0.01")),
        (DEATH_BAR, Side.SELL, Decimal("0.01")),
    ]
    assert all(t.order.order_type is OrderType.MARKET for t in traded)
    assert strategy.position.is_flat


def test_sells_everything_held_even_when_the_position_is_larger_than_one_entry() -> None:
    strategy = make()
    replay(strategy, CROSSING[: GOLDEN_BAR + 1])
    strategy.context.position = Position("BTC/USD", qty=Decimal("0.035"), avg_price=Decimal(13000))
    traded = replay(strategy, CROSSING[GOLDEN_BAR + 1 :], first_index=GOLDEN_BAR + 1)
    assert [(t.index, t.order.side, t.order.volume) for t in traded] == [
        (DEATH_BAR, Side.SELL, Decimal("0.035"))
    ]


def test_a_golden_cross_while_already_long_more_than_one_entry_sells_nothing() -> None:
    strategy = make()
    replay(strategy, CROSSING[:GOLDEN_BAR])
    strategy.context.position = Position("BTC/USD", qty=Decimal("0.035"), avg_price=Decimal(9000))
    assert replay(strategy, [CROSSING[GOLDEN_BAR]], first_index=GOLDEN_BAR) == []


def test_bars_where_the_averages_are_equal_are_no_side_so_no_cross_through_them() -> None:
    # bar 5: fast (9000 + 12000) / 2 = 10500 = slow (11000 + 10000 + 9000 + 12000) / 4
    closes = [13000, 12000, 11000, 10000, 9000, 12000, 15000, 18000]
    assert replay(make(), closes) == []


def test_candles_still_forming_never_trade_nor_move_the_averages() -> None:
    strategy = make()
    for index, close in enumerate(CROSSING):
        assert strategy.on_candle(candle(str(close), index, closed=False)) is None
    assert strategy.signal.startswith("warming up: 0/4")
    traded: list[int] = []
    for index, close in enumerate(CROSSING):
        wild = candle("99000" if index % 2 else "1000", index, closed=False)
        assert strategy.on_candle(wild) is None
        if strategy.on_candle(candle(str(close), index)):
            traded.append(index)
            strategy.context.position = Position("BTC/USD", qty=Decimal("0.01"))
    assert traded == [GOLDEN_BAR, DEATH_BAR]


def test_candles_of_another_interval_than_the_configured_one_are_ignored() -> None:
    strategy = make(interval=1)
    for index, close in enumerate(CROSSING):
        assert strategy.on_candle(candle(str(close), index, interval=5)) is None


def test_without_a_configured_interval_it_trades_whatever_closed_candles_it_gets() -> None:
    strategy = make()
    bars = [candle(str(close), index, interval=60) for index, close in enumerate(CROSSING)]
    traded = []
    for index, bar in enumerate(bars):
        if strategy.on_candle(bar):
            traded.append(index)
            strategy.context.position = Position("BTC/USD", qty=Decimal("0.01"))
    assert traded == [GOLDEN_BAR, DEATH_BAR]


def test_notional_sizing_buys_notional_over_close_rounded_down_to_the_lot() -> None:
    traded = replay(make(volume=None, notional="1000"), CROSSING)
    # 1000 / 13000 = 0.0769230769... -> 8 lot decimals, rounded down
    assert traded[0].order.volume == Decimal("0.07692307")


def test_default_size_is_a_1000_quote_notional() -> None:
    strategy = SmaCross.from_config("d", "BTC/USD", {"fast": 2, "slow": 4}, context_for("BTC/USD"))
    assert replay(strategy, CROSSING)[0].order.volume == Decimal("0.07692307")


def test_an_entry_below_the_exchange_minimum_is_not_sent_and_says_why() -> None:
    strategy = make(volume="0.00001")  # BTC/USD ordermin is 0.00005
    assert replay(strategy, CROSSING) == []
    assert "below the exchange minimum" in strategy.signal


def test_long_short_mode_reverses_to_a_short_on_the_death_cross() -> None:
    traded = replay(make(long_only=False), CROSSING)
    assert [(t.index, t.order.side, t.order.volume) for t in traded] == [
        (GOLDEN_BAR, Side.BUY, Decimal("0.01")),
        (DEATH_BAR, Side.SELL, Decimal("0.02")),
    ]


def test_ema_kind_trades_where_a_textbook_ema_crossover_does() -> None:
    closes = [100, 99, 98, 97, 96, 95, 97, 100, 104, 103, 101, 98, 95, 93, 92]
    closes = [c * 100 for c in closes]
    fast, slow = _ema(closes, 2), _ema(closes, 4)
    pairs = enumerate(zip(fast, slow, strict=True))
    side = [0 if i < 3 else (f > s) - (f < s) for i, (f, s) in pairs]
    expected = [i for i in range(1, len(closes)) if side[i] and side[i] == -side[i - 1]]
    traded = replay(make(kind="ema"), closes)
    assert [t.index for t in traded] == expected
    assert [t.order.side for t in traded] == [Side.BUY, Side.SELL]


def _ema(values: list[int], period: int) -> list[float]:
    alpha, out = 2 / (period + 1), [float(values[0])]
    for value in values[1:]:
        out.append(out[-1] + alpha * (value - out[-1]))
    return out


def test_open_orders_are_cancelled_before_acting_on_a_cross() -> None:
    strategy = make()
    replay(strategy, CROSSING[:GOLDEN_BAR])
    stuck = Order("c1", "BTC/USD", Side.SELL, OrderType.LIMIT, Decimal("1"), OrderStatus.NEW)
    strategy.context.open_orders = (stuck,)
    intents = strategy.on_candle(candle(str(CROSSING[GOLDEN_BAR]), GOLDEN_BAR))
    assert intents is not None
    assert isinstance(intents[0], CancelAll)
    assert isinstance(intents[1], PlaceOrder)
    assert intents[1].side is Side.BUY


def test_signal_shows_both_averages_and_the_stance() -> None:
    strategy = make()
    replay(strategy, CROSSING[: GOLDEN_BAR + 1])
    assert strategy.signal.startswith("fast 11000.0 > slow 10750.0 (long)")
    assert "last golden cross 2026-03-02 09:05" in strategy.signal


def test_restored_state_resumes_warm_and_trades_exactly_as_an_uninterrupted_run() -> None:
    first = make()
    replay(first, CROSSING[:GOLDEN_BAR])
    saved = first.dump_state()
    second = make()
    second.restore_state(saved)
    traded = replay(second, CROSSING[GOLDEN_BAR:], first_index=GOLDEN_BAR)
    assert [t.index for t in traded] == [GOLDEN_BAR, DEATH_BAR]


def test_restored_state_skips_a_replayed_candle_it_already_saw() -> None:
    first = make()
    replay(first, CROSSING[: GOLDEN_BAR + 1])
    second = make()
    second.restore_state(first.dump_state())
    again = candle(str(CROSSING[GOLDEN_BAR]), GOLDEN_BAR)
    assert second.on_candle(again) is None


def test_restored_state_after_a_gap_starts_cold_instead_of_trading_on_stale_averages() -> None:
    first = make()
    replay(first, CROSSING[:GOLDEN_BAR])
    second = make()
    second.restore_state(first.dump_state())
    traded = replay(second, CROSSING[GOLDEN_BAR:], first_index=GOLDEN_BAR + 30)
    assert traded == []
    assert second.signal.startswith("fast")  # re-warmed from the new bars only
    assert '"last_ts":"' + (START + timedelta(minutes=GOLDEN_BAR + 36)).isoformat() in (
        second.dump_state()
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"fast": 20, "slow": 10}, "params.slow"),
        ({"fast": 0}, "params.fast"),
        ({"kind": "wma"}, "params.kind"),
        ({"volume": "0.1", "notional": "100"}, "params.notional"),
        ({"volume": "-1"}, "params.volume"),
        ({"fsat": 3}, "params.fsat"),
    ],
)
def test_invalid_parameters_are_refused_naming_the_field(
    params: dict[str, object], field: str
) -> None:
    with pytest.raises(StrategyConfigError, match=field):
        SmaCross.from_config("bad", "BTC/USD", params, context_for("BTC/USD"))


def test_all_in_spends_the_free_quote_balance_on_the_golden_cross() -> None:
    strategy = SmaCross.from_config(
        "sma_all_in", "BTC/USD", {"fast": 2, "slow": 4, "all_in": True}, context_for("BTC/USD")
    )
    strategy.context.available_quote = Decimal("1000")
    traded = replay(strategy, CROSSING[: GOLDEN_BAR + 1])
    # a market buy sized in quote (viqc), so the fill price cannot make it unaffordable: the
    # 1000 USD less room for BTC/USD's listed 0.40% taker fee, down onto its 5-decimal grid
    assert [(t.index, t.order.quote_volume, t.order.volume) for t in traded] == [
        (GOLDEN_BAR, Decimal("996.01593"), Decimal(0))
    ]
    assert strategy.instrument.taker_fee == Decimal("0.004")


def test_all_in_with_a_position_already_held_sends_no_second_entry() -> None:
    strategy = SmaCross.from_config(
        "sma_all_in", "BTC/USD", {"fast": 2, "slow": 4, "all_in": True}, context_for("BTC/USD")
    )
    strategy.context.available_quote = Decimal("1000")
    strategy.context.position = Position(
        symbol="BTC/USD", qty=Decimal("0.5"), avg_price=Decimal("12000")
    )
    assert replay(strategy, CROSSING[: GOLDEN_BAR + 1]) == []


def test_all_in_below_the_cost_minimum_sends_nothing_and_says_why() -> None:
    strategy = SmaCross.from_config(
        "sma_all_in", "BTC/USD", {"fast": 2, "slow": 4, "all_in": True}, context_for("BTC/USD")
    )
    strategy.context.available_quote = Decimal("0.10")
    assert replay(strategy, CROSSING[: GOLDEN_BAR + 1]) == []
    assert "below the minimum" in strategy.signal


def test_all_in_without_a_known_balance_sends_nothing() -> None:
    strategy = SmaCross.from_config(
        "sma_all_in", "BTC/USD", {"fast": 2, "slow": 4, "all_in": True}, context_for("BTC/USD")
    )
    assert replay(strategy, CROSSING[: GOLDEN_BAR + 1]) == []


def test_all_in_refuses_an_explicit_size_too() -> None:
    with pytest.raises(StrategyConfigError, match="all_in"):
        SmaCross.from_config(
            "x",
            "BTC/USD",
            {"fast": 2, "slow": 4, "all_in": True, "volume": "1"},
            context_for("BTC/USD"),
        )
