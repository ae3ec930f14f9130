"""Market buys sized in quote (Kraken's `viqc`) in the Backtester: all-in entries that the fill
price cannot make unaffordable, settled by the venue's rules whichever path settles them."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any, ClassVar

import pytest
from backtest_rows import NO_FEES, SettlementTwin, bars_from
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from kraken_tui.backtest.broker import API_KEY
from kraken_tui.backtest.data import Bars
from kraken_tui.backtest.engine import BacktestConfig, Backtester
from kraken_tui.backtest.fill_model import FillModel
from kraken_tui.backtest.synthetic import MarketModel, generate_bars
from kraken_tui.domain import Candle, Order, OrderStatus, Side
from kraken_tui.sandbox.fees import FeeSchedule
from kraken_tui.strategies import BaseStrategy, Intents, register_strategy

LOT = Decimal("0.00000001")

# Every open is well above the previous close: sized in base on the close, an all-in buy would
# not be affordable at the open it fills at.
GAPPING_UP = [
    (100.0, 101.0, 99.0, 100.5),
    (110.0, 112.0, 109.0, 111.0),
    (120.0, 121.0, 119.0, 120.5),
]


class BuyerParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    in_quote: bool = True


@register_strategy("test_bt_all_in_buyer")
class AllInBuyer(BaseStrategy):
    """On the first bar, buys with the whole free balance: in quote, or in base at the close."""

    Params = BuyerParams
    params: BuyerParams
    updates: ClassVar[list[Order]] = []

    def on_candle(self, candle: Candle) -> Intents:
        if self.state.get("bought") or self.available_quote is None:
            return None
        self.state["bought"] = True
        if self.params.in_quote:
            return [self.buy_quote(self.available_quote)]
        return [self.buy(self.available_quote / candle.close)]

    def on_order_update(self, order: Order) -> Intents:
        AllInBuyer.updates.append(order)
        return None


@pytest.fixture(autouse=True)
def fresh_buyer() -> None:
    AllInBuyer.updates = []


def run(strategy: str, bars: Bars, params: dict[str, Any] | None = None, **config: Any) -> Any:
    options: dict[str, Any] = {"cash": Decimal(10_000), "fees": NO_FEES, **config}
    return Backtester(
        BacktestConfig(strategy, "XBT/USD", params=params or {}, **options), bars
    ).run()


def test_all_in_sized_in_quote_fills_at_a_higher_open_with_what_the_cash_buys() -> None:
    result = run("test_bt_all_in_buyer", bars_from(GAPPING_UP))
    (fill,) = result.fills
    assert fill.price == Decimal("110.0")
    assert fill.qty == (Decimal(10_000) / Decimal(110)).quantize(LOT, ROUND_DOWN)
    assert result.final_cash == Decimal(10_000) - (fill.qty * fill.price).quantize(
        Decimal("0.0001"), ROUND_DOWN
    )
    final = AllInBuyer.updates[-1]
    assert (final.status, final.quote_volume, final.filled) == (
        OrderStatus.FILLED,
        Decimal(10_000),
        fill.qty,
    )


def test_the_same_entry_sized_in_base_on_the_close_is_refused_for_funds() -> None:
    result = run("test_bt_all_in_buyer", bars_from(GAPPING_UP), {"in_quote": False})
    assert result.fills == ()
    assert AllInBuyer.updates[-1].reason == "EOrder:Insufficient funds"


def test_all_in_leaves_room_for_the_taker_fee_it_pays() -> None:
    fees = FeeSchedule(maker=Decimal("0.0016"), taker=Decimal("0.0026"))

    class FeeAware(AllInBuyer):
        def on_candle(self, candle: Candle) -> Intents:
            if self.state.get("bought") or self.available_quote is None:
                return None
            self.state["bought"] = True
            fee_room = 1 + self.instrument.taker_fee
            return [self.buy_quote(self.available_quote / fee_room)]

    register_strategy("test_bt_fee_aware_buyer")(FeeAware)
    result = run("test_bt_fee_aware_buyer", bars_from(GAPPING_UP), fees=fees)
    (fill,) = result.fills
    assert result.orders_rejected == 0
    assert Decimal(0) <= result.final_cash < Decimal("0.2"), "all but dust spent, fee included"
    assert fill.fee > 0


def test_sma_cross_all_in_never_misses_an_entry_on_bars_that_gap() -> None:
    # opens 5 bp (one standard deviation) off the previous close, as in real minute bars
    bars = generate_bars(6_000, seed=11, model=MarketModel(open_jitter=0.0005))
    result = run("sma_cross", bars, {"fast": 5, "slow": 20, "all_in": True})
    assert result.orders_rejected == 0
    assert result.risk_denials == 0
    assert len(result.trips) > 20
    buys = [f for f in result.fills if f.side is Side.BUY]
    sells = [f for f in result.fills if f.side is Side.SELL]
    assert len(buys) - len(sells) in (0, 1)
    # every entry spends the whole balance: what is left buys less than one lot
    cash = Decimal(10_000)
    for buy, sell in zip(buys, [*sells, None], strict=False):
        assert cash - (buy.qty * buy.price) < buy.price * LOT + Decimal("0.0001")
        if sell is None:
            break
        cash = (sell.qty * sell.price).quantize(Decimal("0.0001"), ROUND_DOWN) + (
            cash - (buy.qty * buy.price).quantize(Decimal("0.0001"), ROUND_DOWN)
        )


def test_limited_depth_fills_part_of_a_quote_buy_and_cancels_the_rest() -> None:
    model = FillModel(volume_share=Decimal("0.001"))  # depth 0.005 per bar
    result = run("test_bt_all_in_buyer", bars_from(GAPPING_UP), fill=model)
    assert [f.qty for f in result.fills] == [Decimal("0.005")]
    final = AllInBuyer.updates[-1]
    assert final.status is OrderStatus.CANCELED
    assert final.filled == Decimal("0.005")
    assert final.quote_volume == Decimal(10_000)


# -- the closed-form settlement of a quote buy is the venue's own result ---------------------


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.decimals(min_value=Decimal("0.1"), max_value=Decimal("60000"), places=5),
            st.decimals(min_value=Decimal("1000"), max_value=Decimal("90000"), places=1),
        ),
        min_size=1,
        max_size=20,
    ),
    taker_bps=st.integers(min_value=0, max_value=40),
)
def test_quote_settlement_matches_the_sandbox_venue_fill_for_fill(
    steps: list[tuple[Decimal, Decimal]], taker_bps: int
) -> None:
    twin = SettlementTwin(taker_bps)
    for amount, price in steps:
        twin.assert_same(
            Side.SELL,
            price,
            lambda venue, amount=amount: venue.add_order(
                API_KEY,
                pair="XBT/USD",
                side=Side.BUY,
                order_type="market",
                volume=amount,
                volume_in_quote=True,
            ),
            lambda fast, amount=amount, price=price: fast.settle_quote(amount, price),
        )
