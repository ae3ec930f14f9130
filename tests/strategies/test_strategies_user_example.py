"""examples/strategies/breakout.py, loaded from its directory by the real StrategyManager the
way a user's strategy is, trades its rules on crafted candles and survives a restart."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from strategy_replay import START, candle, instrument

from kraken_tui.clock import VirtualClock
from kraken_tui.domain import Position, StrategyState
from kraken_tui.engine.strategy_manager import SavedStrategy, StrategyHost, StrategyManager
from kraken_tui.settings import StrategyConfig
from kraken_tui.strategies import Intent, PlaceOrder

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "strategies"
NAME = "breakout_btc"

# entry_lookback 3, exit_lookback 2: bar 4 closes 10300 above the 3-bar high 10100 -> buy;
# bar 7 closes 10200 below the 2-bar low 10400 -> sell.
CHANNEL = [10000, 10100, 10000, 10100, 10300, 10400, 10500, 10200]
# atr_period 2, atr_stop 1: after the entry the peak is 10400; at bar 7 ATR(2) is 86.7, so the
# stop is 10313.3 and the 10300 close sells (the 10-bar channel low is still far away).
TRAILING = [10000, 10100, 10000, 10100, 10300, 10350, 10400, 10300]


class Harness:
    """A StrategyManager with the example loaded from EXAMPLES; market orders fill at the
    close, and the fills are handed back as the engine does (update_views)."""

    def __init__(self, params: dict[str, object], saved: SavedStrategy | None = None) -> None:
        self.manager = StrategyManager(VirtualClock(START), strategy_dir=EXAMPLES)
        self.orders: list[tuple[int, PlaceOrder]] = []
        self.position = Position("BTC/USD", strategy=NAME)
        self.bar = 0
        self.close = Decimal(0)
        self.manager.set_sink(self._sink)
        config = StrategyConfig(
            name=NAME, class_name="breakout.py:DonchianBreakout", symbol="BTC/USD", params=params
        )
        self.manager.load(
            [config], {"BTC/USD": instrument("BTC/USD")}, {NAME: saved} if saved else None
        )
        self.manager.start()

    def _sink(self, host: StrategyHost, intent: Intent) -> None:
        assert isinstance(intent, PlaceOrder)
        self.orders.append((self.bar, intent))
        self.position = self.position.apply(
            intent.side, intent.volume, self.close, Decimal(0), START
        )
        self.manager.update_views(NAME, self.position, ())

    def feed(self, closes: list[int], first: int = 0) -> None:
        for offset, close in enumerate(closes):
            self.bar = first + offset
            self.close = Decimal(close)
            self.manager.on_candle(candle(str(close), self.bar))

    @property
    def host(self) -> StrategyHost:
        host = self.manager.host(NAME)
        assert host is not None
        return host


def sides(harness: Harness) -> list[tuple[int, str, Decimal]]:
    return [(bar, str(order.side), order.volume) for bar, order in harness.orders]


CHANNEL_PARAMS = {"entry_lookback": 3, "exit_lookback": 2, "atr_stop": 0, "volume": "0.01"}


def test_loaded_from_the_strategy_directory_and_running() -> None:
    harness = Harness(CHANNEL_PARAMS)
    assert harness.host.state is StrategyState.RUNNING
    assert type(harness.host.strategy).__module__ == "kraken_tui_user_strategies.breakout"


def test_buys_the_breakout_and_sells_the_channel_exit() -> None:
    harness = Harness(CHANNEL_PARAMS)
    harness.feed(CHANNEL)
    assert sides(harness) == [(4, "buy", Decimal("0.01")), (7, "sell", Decimal("0.01"))]
    assert harness.host.error is None


def test_the_atr_trailing_stop_sells_below_the_peak() -> None:
    harness = Harness({"entry_lookback": 3, "exit_lookback": 3, "atr_period": 2, "atr_stop": 1})
    harness.feed(TRAILING)
    assert sides(harness) == [(4, "buy", Decimal("0.001")), (7, "sell", Decimal("0.001"))]


def test_candles_still_forming_never_trade() -> None:
    harness = Harness(CHANNEL_PARAMS)
    for bar, close in enumerate(CHANNEL):
        harness.manager.on_candle(candle(str(close), bar, closed=False))
    assert harness.orders == []


def test_a_restart_keeps_the_channels_so_the_exit_still_fires() -> None:
    first = Harness(CHANNEL_PARAMS)
    first.feed(CHANNEL[:6])
    assert sides(first) == [(4, "buy", Decimal("0.01"))]
    ((name, state),) = first.manager.dirty_states()
    assert name == NAME
    restarted = Harness(
        CHANNEL_PARAMS, SavedStrategy(StrategyState.RUNNING, json.loads(json.dumps(state)))
    )
    restarted.position = first.position
    restarted.manager.update_views(NAME, first.position, ())
    restarted.feed(CHANNEL[6:], first=6)
    assert sides(restarted) == [(7, "sell", Decimal("0.01"))]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"entry_lookback": 5, "exit_lookback": 8}, "params.exit_lookback"),
        ({"volume": "0"}, "params.volume"),
    ],
)
def test_invalid_parameters_leave_it_in_error_naming_the_field(
    params: dict[str, object], field: str
) -> None:
    harness = Harness(params)
    assert harness.host.state is StrategyState.ERROR
    assert harness.host.error is not None
    assert field in harness.host.error
