"""The Backtester: no look-ahead, fill timing and prices, the venue's rules, risk, latency."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import polars as pl
import pytest
from backtest_rows import MINUTE, NO_FEES, T0, SettlementTwin, bars_from
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from kraken_tui.backtest.broker import API_KEY
from kraken_tui.backtest.data import TRADES_SCHEMA, Bars
from kraken_tui.backtest.engine import (
    BacktestConfig,
    Backtester,
    BacktestSetupError,
    StrategyFailedError,
)
from kraken_tui.backtest.fill_model import FillModel
from kraken_tui.backtest.synthetic import generate_bars, generate_trades
from kraken_tui.backtest.trade_tape import TradeTape
from kraken_tui.domain import Candle, Execution, Order, OrderStatus, Side, Trade
from kraken_tui.engine.risk import RiskLimits
from kraken_tui.sandbox.fees import FeeSchedule
from kraken_tui.strategies import BaseStrategy, Intents, register_strategy


class ScriptParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    interval: int = 1


@register_strategy("test_bt_recorder")
class Recorder(BaseStrategy):
    """Records what it is shown and when; buys 0.01 on the bars listed in `buy_on`."""

    Params = ScriptParams
    buy_on: ClassVar[set[int]] = set()
    volume: ClassVar[Decimal] = Decimal("0.01")
    seen: ClassVar[list[tuple[datetime, Decimal, datetime, Decimal | None]]] = []
    available: ClassVar[list[Decimal | None]] = []
    fills: ClassVar[list[Execution]] = []
    fill_seen_at: ClassVar[list[datetime]] = []
    updates: ClassVar[list[Order]] = []

    def on_candle(self, candle: Candle) -> Intents:
        index = len(Recorder.seen)
        Recorder.seen.append((candle.ts, candle.close, self.now, self.mid))
        Recorder.available.append(self.available_quote)
        return [self.buy(Recorder.volume)] if index in Recorder.buy_on else None

    def on_fill(self, execution: Execution) -> Intents:
        Recorder.fills.append(execution)
        Recorder.fill_seen_at.append(self.now)
        return None

    def on_order_update(self, order: Order) -> Intents:
        Recorder.updates.append(order)
        return None


@pytest.fixture(autouse=True)
def fresh_recorder() -> None:
    Recorder.buy_on = set()
    Recorder.volume = Decimal("0.01")
    Recorder.seen = []
    Recorder.available = []
    Recorder.fills = []
    Recorder.fill_seen_at = []
    Recorder.updates = []


class LimitParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    price: Decimal
    side: Side = Side.BUY
    volume: Decimal = Decimal("0.01")
    post_only: bool = False
    interval: int = 1


@register_strategy("test_bt_limit_once")
class LimitOnce(BaseStrategy):
    """Places one limit order on the first closed bar."""

    Params = LimitParams
    params: LimitParams
    last_update: ClassVar[Order | None] = None

    def on_candle(self, candle: Candle) -> Intents:
        if self.state.get("placed"):
            return None
        self.state["placed"] = True
        p = self.params
        return [self.limit(p.side, p.volume, p.price, post_only=p.post_only)]

    def on_order_update(self, order: Order) -> Intents:
        LimitOnce.last_update = order
        return None


@register_strategy("test_bt_crasher")
class Crasher(BaseStrategy):
    Params = ScriptParams

    def on_candle(self, candle: Candle) -> Intents:
        if candle.ts >= T0 + 2 * MINUTE:
            raise ZeroDivisionError("boom")
        return None


def run(
    strategy: str,
    bars: Bars | TradeTape,
    params: dict[str, Any] | None = None,
    *,
    fill: FillModel | None = None,
    fees: FeeSchedule = NO_FEES,
    risk: RiskLimits | None = None,
    cash: Decimal = Decimal(10_000),
) -> Any:
    config = BacktestConfig(
        strategy=strategy,
        symbol="XBT/USD",
        params=params or {},
        cash=cash,
        fees=fees,
        fill=fill or FillModel(),
        risk=risk or RiskLimits(),
    )
    return Backtester(config, bars).run()


# Bars whose next open is far from the previous close, so a fill at the close (a peek at the
# decision bar) and a fill at the next open (no peek) give different prices.
GAPPY = [
    (100.0, 101.0, 99.0, 100.5),
    (110.0, 112.0, 109.0, 111.0),
    (120.0, 121.0, 119.0, 120.5),
    (130.0, 131.0, 129.0, 130.5),
    (140.0, 141.0, 139.0, 140.5),
]


def test_strategy_receives_each_bar_only_at_its_close_time() -> None:
    run("test_bt_recorder", bars_from(GAPPY))
    assert len(Recorder.seen) == len(GAPPY)
    for index, (ts, close, now, mid) in enumerate(Recorder.seen):
        assert ts == T0 + MINUTE * index
        assert now == ts + MINUTE, "a bar must not be delivered before it closes"
        assert close == Decimal(repr(GAPPY[index][3]))
        assert mid == close, "the book a strategy sees is the last closed bar's, not the next"


def test_market_order_decided_on_a_close_fills_at_the_next_bars_open() -> None:
    Recorder.buy_on = {1}
    result = run("test_bt_recorder", bars_from(GAPPY))
    (fill,) = result.fills
    assert fill.price == Decimal("120.0"), "filled at bar 2's open, not bar 1's close (111.0)"
    assert fill.ts == T0 + 2 * MINUTE
    assert Recorder.fills == [fill]
    assert Recorder.updates[-1].status is OrderStatus.FILLED


def test_a_strategy_trading_to_peek_learns_the_next_open_only_once_that_bar_opened() -> None:
    Recorder.buy_on = {0}
    run("test_bt_recorder", bars_from(GAPPY))
    (fill,) = Recorder.fills
    assert fill.price == Decimal("110.0"), "the price of bar 1's open"
    assert Recorder.fill_seen_at == [T0 + MINUTE], "told at bar 1's open, not at bar 0's close"
    decision_time = Recorder.seen[0][2]
    assert decision_time == T0 + MINUTE
    assert Recorder.fill_seen_at[0] >= decision_time


def test_an_order_on_the_last_bar_never_fills_because_no_later_bar_exists() -> None:
    Recorder.buy_on = {len(GAPPY) - 1}
    result = run("test_bt_recorder", bars_from(GAPPY))
    assert result.fills == ()
    assert result.unsent_requests == 1


def test_after_a_gap_in_the_data_bars_keep_their_times_and_orders_meet_the_next_bar() -> None:
    frame = bars_from(GAPPY).frame.with_columns(
        pl.when(pl.int_range(pl.len()) >= 2)
        .then(pl.col("ts") + pl.duration(minutes=60))
        .otherwise(pl.col("ts"))
        .alias("ts")
    )  # an hour without trades (no bars) after the second bar
    Recorder.buy_on = {1}
    result = run("test_bt_recorder", Bars(frame, 1))
    times = [ts for ts, _, _, _ in Recorder.seen]
    assert times == [T0, T0 + MINUTE, T0 + 62 * MINUTE, T0 + 63 * MINUTE, T0 + 64 * MINUTE]
    assert [now for _, _, now, _ in Recorder.seen][2] == T0 + 63 * MINUTE
    (fill,) = result.fills
    assert fill.price == Decimal("120.0") and fill.ts == T0 + 62 * MINUTE


def test_latency_delays_arrival_to_the_first_open_after_it() -> None:
    Recorder.buy_on = {0}
    result = run("test_bt_recorder", bars_from(GAPPY), fill=FillModel(latency_ms=90_000))
    # decided at 00:01, arrives at 00:02:30, so the 00:03 open (bar 3) is the first it meets
    assert result.fills[0].price == Decimal("130.0")
    assert result.fills[0].ts == T0 + 3 * MINUTE


def test_slippage_and_spread_move_the_taker_price_away_from_the_open() -> None:
    Recorder.buy_on = {0}
    model = FillModel(spread_bps=Decimal(20), slippage_bps=Decimal(5))
    result = run("test_bt_recorder", bars_from(GAPPY), fill=model)
    # 110.0 × (1 + 15 bps) = 110.165, rounded up onto the 0.1 tick
    assert result.fills[0].price == Decimal("110.2")


def test_taker_fee_comes_from_the_venue_fee_schedule_rounded_down() -> None:
    Recorder.buy_on = {0}
    fees = FeeSchedule(maker=Decimal("0.0016"), taker=Decimal("0.0026"))
    result = run("test_bt_recorder", bars_from(GAPPY), fees=fees)
    # cost 0.01 × 110.0 = 1.1 USD, fee 0.00286 rounded down onto 0.0001
    assert result.fills[0].fee == Decimal("0.0028")
    assert result.final_cash == Decimal(10_000) - Decimal("1.1") - Decimal("0.0028")
    assert result.fees_paid == Decimal("0.0028")


def test_strategy_sees_the_free_quote_balance_after_each_fill() -> None:
    Recorder.buy_on = {0}
    run("test_bt_recorder", bars_from(GAPPY), cash=Decimal(1_000))
    assert Recorder.available[:2] == [Decimal(1_000), Decimal(1_000) - Decimal("1.1")]


def test_limit_order_resting_in_the_venue_holds_its_quote_out_of_the_free_balance() -> None:
    class Watcher(LimitOnce):
        seen: ClassVar[list[Decimal | None]] = []

        def on_candle(self, candle: Candle) -> Intents:
            Watcher.seen.append(self.available_quote)
            return super().on_candle(candle)

    register_strategy("test_bt_limit_watcher")(Watcher)
    run("test_bt_limit_watcher", bars_from(GAPPY), {"price": "50.0"}, cash=Decimal(1_000))
    assert Watcher.seen[0] == Decimal(1_000)
    assert Watcher.seen[-1] == Decimal(1_000) - Decimal("0.5"), "0.01 × 50.0 held"


def test_order_below_the_pair_minimum_is_refused_by_the_venue_rules() -> None:
    class Tiny(Recorder):
        def on_candle(self, candle: Candle) -> Intents:
            return [self.buy(Decimal("0.00001"))] if candle.ts == T0 else None

    register_strategy("test_bt_tiny")(Tiny)
    result = run("test_bt_tiny", bars_from(GAPPY))
    assert result.fills == ()
    assert result.risk_denials == 1, "risk refuses below ordermin before the venue sees it"


def test_buy_beyond_the_cash_is_rejected_with_the_venue_funds_error() -> None:
    Recorder.buy_on = {0}
    result = run("test_bt_recorder", bars_from(GAPPY), cash=Decimal(1))
    assert result.fills == ()
    assert result.orders_rejected == 1
    assert Recorder.updates[-1].status is OrderStatus.REJECTED
    assert Recorder.updates[-1].reason == "EOrder:Insufficient funds"


def test_risk_manager_denies_orders_over_the_notional_limit() -> None:
    Recorder.buy_on = {0, 1}
    result = run(
        "test_bt_recorder", bars_from(GAPPY), risk=RiskLimits(max_order_notional=Decimal(1))
    )
    assert result.risk_denials == 2
    assert result.orders_sent == 0


def test_drawdown_limit_halts_trading_like_the_live_kill_switch() -> None:
    rows = [
        (100.0, 101.0, 99.0, 100.0),
        (110.0, 111.0, 79.0, 80.0),  # bought 15 at 110: equity 2,000 → 1,550 (-22.5 %)
        (80.0, 81.0, 59.0, 60.0),
        (60.0, 61.0, 49.0, 50.0),
        (50.0, 51.0, 49.0, 50.0),
    ]
    Recorder.buy_on = {0, 3}
    Recorder.volume = Decimal(15)
    result = run(
        "test_bt_recorder",
        bars_from(rows),
        cash=Decimal(2_000),
        risk=RiskLimits(max_drawdown_pct=Decimal(20)),
    )
    assert len(result.fills) == 1
    assert result.risk_denials == 1, "the second buy comes after the halt"


def test_resting_limit_buy_fills_as_maker_only_when_the_bar_trades_through_it() -> None:
    rows = [
        (100.0, 100.5, 99.5, 100.0),
        (100.0, 100.5, 99.0, 100.2),  # low touches 99.0: no fill
        (100.0, 100.5, 98.9, 100.2),  # trades through 99.0: fill at 99.0
        (100.0, 100.5, 99.5, 100.0),
    ]
    fees = FeeSchedule(maker=Decimal("0.001"), taker=Decimal("0.002"))
    result = run("test_bt_limit_once", bars_from(rows), {"price": "99.0"}, fees=fees)
    (fill,) = result.fills
    assert fill.price == Decimal("99.0")
    assert fill.ts == T0 + 3 * MINUTE, "stamped at the close of the bar that filled it"
    assert fill.liquidity.value == "m"
    assert fill.fee == Decimal("0.0009")  # 0.99 × 0.1 % rounded down


def test_resting_order_fills_at_most_the_bars_depth_and_keeps_resting() -> None:
    rows = [
        (100.0, 100.5, 99.5, 100.0),
        (100.0, 100.5, 98.0, 100.2),  # through 99.0: 0.005 of the 0.01 fills
        (100.0, 100.5, 99.5, 100.0),  # not through: nothing
        (100.0, 100.5, 98.5, 100.2),  # through again: the other 0.005
    ]
    model = FillModel(volume_share=Decimal("0.001"))  # 0.005 of each 5.0 bar
    result = run("test_bt_limit_once", bars_from(rows, volume=5.0), {"price": "99.0"}, fill=model)
    assert [(f.qty, f.ts) for f in result.fills] == [
        (Decimal("0.005"), T0 + 2 * MINUTE),
        (Decimal("0.005"), T0 + 4 * MINUTE),
    ]
    assert result.final_position.qty == Decimal("0.01")


def test_marketable_limit_order_takes_the_synthetic_level_at_the_open() -> None:
    result = run("test_bt_limit_once", bars_from(GAPPY), {"price": "115.0"})
    (fill,) = result.fills
    assert fill.price == Decimal("110.0")
    assert fill.liquidity.value == "t"


def test_post_only_order_that_would_cross_is_accepted_then_cancelled_by_the_venue() -> None:
    """As Kraken does (docs.kraken.com AddOrder `post`): accepted, then cancelled with reason
    `Post only order`, never filled as a taker."""
    LimitOnce.last_update = None
    result = run("test_bt_limit_once", bars_from(GAPPY), {"price": "115.0", "post_only": True})
    assert result.fills == ()
    assert result.orders_rejected == 0
    assert LimitOnce.last_update is not None
    assert LimitOnce.last_update.status is OrderStatus.CANCELED
    assert LimitOnce.last_update.reason == "Post only order"


def test_limited_depth_fills_part_of_a_market_order_and_cancels_the_rest() -> None:
    Recorder.buy_on = {0}
    model = FillModel(volume_share=Decimal("0.001"))
    result = run("test_bt_recorder", bars_from(GAPPY, volume=5.0), fill=model)
    # depth 0.005 of the 0.01 asked
    assert [f.qty for f in result.fills] == [Decimal("0.005")]
    assert Recorder.updates[-1].status is OrderStatus.CANCELED
    assert Recorder.updates[-1].filled == Decimal("0.005")


def test_strategy_exception_stops_the_run_naming_the_bar() -> None:
    with pytest.raises(StrategyFailedError, match=r"2024-01-01 00:02 UTC: ZeroDivisionError"):
        run("test_bt_crasher", bars_from(GAPPY))


def test_unknown_strategy_symbol_and_parameters_are_setup_errors() -> None:
    bars = bars_from(GAPPY)
    with pytest.raises(BacktestSetupError, match="no strategy registered as 'nope'"):
        run("nope", bars)
    with pytest.raises(BacktestSetupError, match="unknown symbol 'DOGE/EUR'"):
        Backtester(BacktestConfig("sma_cross", "DOGE/EUR"), bars)
    with pytest.raises(BacktestSetupError, match=r"params\.fast"):
        run("sma_cross", bars, {"fast": "ten"})


def test_sma_cross_trades_alternate_buy_and_sell_on_synthetic_data() -> None:
    bars = generate_bars(5_000, seed=7)
    result = run("sma_cross", bars, {"fast": 5, "slow": 20, "volume": "0.1"})
    sides = [fill.side for fill in result.fills]
    assert len(sides) > 20
    assert all(a is not b for a, b in itertools.pairwise(sides))
    assert len(result.trips) == len(sides) // 2
    assert result.equity.height == 5_000


# -- trade-by-trade replay -----------------------------------------------------------------------


def tape_from(prints: list[tuple[float, float]], volume: float = 1.0) -> TradeTape:
    """Trades (seconds after T0, price) of `volume` each."""
    frame = pl.DataFrame(
        {
            "ts": [T0 + timedelta(seconds=seconds) for seconds, _ in prints],
            "price": [price for _, price in prints],
            "volume": [volume] * len(prints),
        },
        schema=TRADES_SCHEMA,
    )
    return TradeTape(frame, 1)


@register_strategy("test_bt_tape_reader")
class TapeReader(BaseStrategy):
    Params = ScriptParams
    trades: ClassVar[list[tuple[Decimal, Side, datetime, datetime]]] = []

    def on_trade(self, trade: Trade) -> Intents:
        TapeReader.trades.append((trade.price, trade.side, trade.ts, self.now))
        return None


def test_trade_replay_delivers_candles_built_from_the_trades_at_their_close() -> None:
    bars = generate_bars(30, seed=5)
    run("test_bt_recorder", TradeTape(generate_trades(bars, seed=5), 1))
    assert len(Recorder.seen) == 30
    expected = bars.frame["close"].to_list()
    for index, (ts, close, now, mid) in enumerate(Recorder.seen):
        assert ts == bars.frame["ts"][index]
        assert now == ts + MINUTE
        assert close == Decimal(repr(expected[index]))
        assert mid == close


def test_trade_replay_fills_a_market_order_at_the_first_print_after_it_arrives() -> None:
    prints = [(0, 100.0), (30, 101.0), (59, 102.0), (61, 105.0), (90, 106.0), (110, 107.0)]
    Recorder.buy_on = {0}
    result = run("test_bt_recorder", tape_from(prints))
    assert [(f.price, f.ts) for f in result.fills] == [
        (Decimal("105.0"), T0 + timedelta(seconds=61))
    ]
    Recorder.buy_on = {0}
    Recorder.seen = []
    late = run("test_bt_recorder", tape_from(prints), fill=FillModel(latency_ms=40_000))
    assert [f.price for f in late.fills] == [Decimal("107.0")], "arrives 00:01:40, next print"


def test_trade_replay_fills_a_resting_limit_only_on_a_print_through_it() -> None:
    # the order reaches the venue at the 00:01:01 print (100.0) and rests below it
    prints = [(0, 100.0), (59, 100.0), (61, 100.0), (70, 99.0), (80, 99.5), (95, 98.9)]
    result = run("test_bt_limit_once", tape_from(prints), {"price": "99.0"})
    (fill,) = result.fills
    assert fill.price == Decimal("99.0")
    assert fill.ts == T0 + timedelta(seconds=95), "the print at 99.0 only touched it"
    assert fill.liquidity.value == "m"


def test_trade_replay_shows_each_print_with_its_tick_rule_side_at_its_own_time() -> None:
    TapeReader.trades = []
    prints = [(0, 100.0), (10, 100.5), (20, 100.5), (30, 100.1), (70, 100.1)]
    run("test_bt_tape_reader", tape_from(prints))
    assert [(price, side) for price, side, _, _ in TapeReader.trades] == [
        (Decimal("100.0"), Side.BUY),
        (Decimal("100.5"), Side.BUY),
        (Decimal("100.5"), Side.BUY),
        (Decimal("100.1"), Side.SELL),
        (Decimal("100.1"), Side.SELL),
    ]
    assert all(ts == now for _, _, ts, now in TapeReader.trades)


# -- the closed-form market settlement is the venue's own result --------------------------------

order_steps = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("3"), places=8),
        st.decimals(min_value=Decimal("1000"), max_value=Decimal("90000"), places=1),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(steps=order_steps, taker_bps=st.integers(min_value=0, max_value=40))
def test_market_settlement_matches_the_sandbox_venue_fill_for_fill(
    steps: list[tuple[Side, Decimal, Decimal]], taker_bps: int
) -> None:
    twin = SettlementTwin(taker_bps)
    for side, volume, price in steps:
        twin.assert_same(
            side.opposite,
            price,
            lambda venue, side=side, volume=volume: venue.add_order(
                API_KEY,
                pair="XBT/USD",
                side=side,
                order_type="market",
                volume=volume,
                fee_in_base=False,
            ),
            lambda fast, side=side, volume=volume, price=price: fast.settle(side, volume, price),
        )
