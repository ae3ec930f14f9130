"""A strategy that returns a malformed order stops alone: the real engine, risk manager and
simulated exchange keep serving every other strategy the same book events."""

from dataclasses import replace
from decimal import Decimal

import pytest
from engine_fixtures import config, eventually, make_exchange, open_store, started, strategy
from pydantic import BaseModel

from kraken_tui.domain import BookSnapshot, OrderType, StrategyState
from kraken_tui.strategies import BaseStrategy, Intents, PlaceOrder

D = Decimal


class _BuyOnceParams(BaseModel):
    size: Decimal = D("0.1")


class BuyOnce(BaseStrategy):
    Params = _BuyOnceParams
    params: _BuyOnceParams

    def on_book(self, book: BookSnapshot) -> Intents:
        if self.state.get("sent") or book.best_ask is None:
            return None
        self.state["sent"] = True
        return [self.buy(self.params.size, book.best_ask.price)]


class SideAsText(BaseStrategy):
    """Writes the side as the exchange spells it instead of `Side.BUY`."""

    def on_book(self, book: BookSnapshot) -> Intents:
        return [PlaceOrder(side="buy", order_type=OrderType.MARKET, volume=D("0.1"))]  # type: ignore[arg-type]


class VolumeOffTheScale(BaseStrategy):
    """A well-typed buy whose volume no Decimal on the instrument's lot grid can hold."""

    def on_book(self, book: BookSnapshot) -> Intents:
        return [replace(self.buy(D("0.1")), volume=D("1e30"))]


@pytest.mark.parametrize(
    ("cls", "reason"),
    [
        ("SideAsText", "PlaceOrder.side must be a Side, got 'buy' (str)"),
        ("VolumeOffTheScale", "which the engine could not handle: InvalidOperation"),
    ],
)
async def test_a_strategy_sending_a_malformed_order_stops_and_the_next_one_trades(
    tmp_path, cls: str, reason: str
) -> None:
    exchange = make_exchange()
    store = await open_store(tmp_path)
    engine = await started(
        exchange,
        store,
        config(strategy("bad", cls, __name__), strategy("buy", "BuyOnce", __name__)),
    )
    try:
        await eventually(lambda: engine.positions.position("BTC/USD").qty == D("0.1"))
        states = {s.name: s for s in engine.snapshot().strategies}
        assert states["bad"].state is StrategyState.ERROR
        assert reason in (states["bad"].error or "")
        assert states["buy"].state is StrategyState.RUNNING
    finally:
        await engine.stop(cancel_open_orders=True)
        await store.close()
