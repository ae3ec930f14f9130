"""`AmendOrder` in the Backtester: carried out by the sandbox venue's own AmendOrder, a refusal
handed back to the strategy, and `market_maker` replayed requoting by amends."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from kraken_tui.backtest.engine import BacktestConfig, Backtester
from kraken_tui.backtest.synthetic import generate_bars
from kraken_tui.domain import Candle, Liquidity, Order, OrderStatus, OrderType, Side
from kraken_tui.strategies import Intents, PlaceOrder, register_strategy
from kraken_tui.strategies.base import BaseStrategy


def test_a_market_maker_replay_requotes_by_amending_its_quotes() -> None:
    bars = generate_bars(600, seed=3)
    result = Backtester(
        BacktestConfig("market_maker", "BTC/USD", {"quote_size": "0.01"}), bars
    ).run()
    # a minute bar often moves the quotes past the threshold without reaching them
    assert result.orders_amended >= 100
    assert result.fills and all(fill.liquidity is Liquidity.MAKER for fill in result.fills)


@register_strategy("test_bt_stop_amender")
class StopAmender(BaseStrategy):
    """Places a buy stop above the market, then asks for a limit price on it: the venue
    refuses, since a plain stop order has no limit price to amend."""

    refusals: ClassVar[list[tuple[Order, str]]] = []

    def on_candle(self, candle: Candle) -> Intents:
        if self.state.get("placed"):
            return None
        self.state["placed"] = True
        trigger = self.instrument.round_price(Decimal(str(candle.close)) * Decimal("1.01"))
        return [PlaceOrder(Side.BUY, OrderType.STOP_LOSS, Decimal("0.01"), trigger_price=trigger)]

    def on_order_update(self, order: Order) -> Intents:
        if order.status is not OrderStatus.NEW or self.state.get("amended"):
            return None
        self.state["amended"] = True
        assert order.trigger_price is not None
        return [self.amend(order.cl_ord_id, price=order.trigger_price)]

    def on_amend_rejected(self, order: Order, reason: str) -> Intents:
        StopAmender.refusals.append((order, reason))
        return None


def test_an_amend_the_venue_refuses_reaches_the_strategy_with_its_reason() -> None:
    StopAmender.refusals.clear()
    result = Backtester(
        BacktestConfig("test_bt_stop_amender", "BTC/USD"), generate_bars(30, seed=1)
    ).run()
    [(order, reason)] = StopAmender.refusals
    assert reason == "EGeneral:Invalid arguments:limit_price"
    assert order.order_type is OrderType.STOP_LOSS and order.price is None
    assert result.orders_amended == 0
