"""rsi_reversion on hand-computed RSI(3) series: oversold buys, overbought (or 50) sells."""

from __future__ import annotations

from decimal import Decimal

import pytest
from strategy_replay import candle, context_for, replay

from kraken_tui.domain import Order, OrderStatus, OrderType, Side
from kraken_tui.strategies import StrategyConfigError, load_builtin_strategies, strategy_registry
from kraken_tui.strategies.rsi_reversion import RsiReversion

# Wilder RSI(3): bar 3 reads 0 (three losses) -> buy; then +100 per bar reads
# 33.3 (bar 4), 55.6 (bar 5), 70.4 (bar 6) -> sell at 70, or at bar 5 with exit_at_mid.
FALL_THEN_RISE = [10000, 9900, 9800, 9700, 9800, 9900, 10000, 10100]


def make(**params: object) -> RsiReversion:
    raw = {"period": 3, "volume": "0.02", **params}
    strategy = RsiReversion.from_config("rsi_test", "BTC/USD", raw, context_for("BTC/USD"))
    assert isinstance(strategy, RsiReversion)
    return strategy


def test_registered_as_rsi_reversion() -> None:
    load_builtin_strategies()
    assert strategy_registry()["rsi_reversion"] is RsiReversion


def test_oversold_buys_and_overbought_sells_the_position() -> None:
    strategy = make()
    traded = replay(strategy, FALL_THEN_RISE)
    assert [(t.index, t.order.side, t.order.volume) for t in traded] == [
        (3, Side.BUY, Decimal("0.02")),
        (6, Side.SELL, Decimal("0.02")),
    ]
    assert strategy.position.is_flat
    assert "sold at RSI 70.4" in strategy.signal


def test_all_in_buys_with_the_free_quote_balance_and_sells_what_that_bought() -> None:
    strategy = RsiReversion.from_config(
        "rsi_all_in", "BTC/USD", {"period": 3, "all_in": True}, context_for("BTC/USD")
    )
    strategy.context.available_quote = Decimal("5000")
    traded = replay(strategy, FALL_THEN_RISE)
    # 5000 / 1.004 (room for the listed taker fee) on the 5-decimal quote grid, spent at 9700
    buy, sell = traded
    assert (buy.index, buy.order.side, buy.order.quote_volume) == (
        3,
        Side.BUY,
        Decimal("4980.07968"),
    )
    assert (sell.index, sell.order.side, sell.order.volume) == (6, Side.SELL, Decimal("0.51341027"))
    assert strategy.position.is_flat


def test_exit_at_mid_sells_as_soon_as_rsi_is_back_to_50() -> None:
    traded = replay(make(exit_at_mid=True), FALL_THEN_RISE)
    assert [(t.index, t.order.side) for t in traded] == [(3, Side.BUY), (5, Side.SELL)]


def test_staying_oversold_while_long_adds_nothing() -> None:
    traded = replay(make(), [10000, 9900, 9800, 9700, 9600, 9500, 9400])
    assert [(t.index, t.order.side) for t in traded] == [(3, Side.BUY)]


def test_nothing_trades_before_period_plus_one_closes() -> None:
    strategy = make()
    assert replay(strategy, FALL_THEN_RISE[:3]) == []
    assert strategy.signal == "warming up: 3/4 candles"


def test_candles_still_forming_are_ignored() -> None:
    strategy = make()
    for index, close in enumerate(FALL_THEN_RISE):
        assert strategy.on_candle(candle(str(close), index, closed=False)) is None
    assert strategy.signal == "warming up: 0/4 candles"


def test_no_new_order_while_one_is_still_open() -> None:
    strategy = make()
    replay(strategy, FALL_THEN_RISE[:3])
    pending = Order("c1", "BTC/USD", Side.BUY, OrderType.MARKET, Decimal("0.02"), OrderStatus.NEW)
    strategy.context.open_orders = (pending,)
    assert strategy.on_candle(candle(str(FALL_THEN_RISE[3]), 3)) is None


def test_restored_state_resumes_with_the_same_rsi() -> None:
    first = make()
    replay(first, FALL_THEN_RISE[:5])
    second = make()
    second.restore_state(first.dump_state())
    assert second.signal.startswith("RSI 33.3")
    traded = replay(second, FALL_THEN_RISE[5:], first_index=5)
    # the position lives in the engine, not in the strategy state: the restored copy is flat
    assert traded == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"oversold": 60}, "params.oversold"),
        ({"overbought": 40}, "params.overbought"),
        ({"period": 1}, "params.period"),
        ({"volume": "0.1", "notional": "10"}, "params.notional"),
    ],
)
def test_invalid_parameters_are_refused_naming_the_field(
    params: dict[str, object], field: str
) -> None:
    with pytest.raises(StrategyConfigError, match=field):
        RsiReversion.from_config("bad", "BTC/USD", params, context_for("BTC/USD"))
