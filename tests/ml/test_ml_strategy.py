"""ml_signal: live features and predictions equal the training pipeline's, trades follow the
thresholds, unusable model files are configuration errors, restarts resume warm."""

from __future__ import annotations

import pickle
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from kraken_tui.backtest.data import Bars, to_candles
from kraken_tui.clock import VirtualClock
from kraken_tui.domain import Candle, Order, OrderStatus, OrderType, Side
from kraken_tui.ml.features import BOOK_FEATURES, FEATURE_VERSION, WARMUP_BARS, compute_features
from kraken_tui.ml.model_file import ModelMetadata, library_versions, load_model, save_model
from kraken_tui.ml.oos_backtest import instrument_for
from kraken_tui.ml.strategy import MlSignal
from kraken_tui.ml.train import make_estimator
from kraken_tui.strategies import (
    PlaceOrder,
    StrategyConfigError,
    StrategyContext,
    strategy_registry,
)

SYMBOL = "BTC/USD"
ENTER, EXIT = 0.55, 0.48


def make(model: Path, **params: object) -> MlSignal:
    context = StrategyContext(instrument=instrument_for(SYMBOL), clock=VirtualClock())
    raw = {"model": str(model), "enter": ENTER, "exit": EXIT, "volume": "0.01", **params}
    strategy = MlSignal.from_config("ml_test", SYMBOL, raw, context)
    assert isinstance(strategy, MlSignal)
    return strategy


def feed(strategy: MlSignal, candles: list[Candle]) -> list[tuple[int, PlaceOrder]]:
    """Closed candles in, market orders filled at the close, the way the engine books them."""
    orders = []
    for index, candle in enumerate(candles):
        for intent in strategy.on_candle(candle) or ():
            if isinstance(intent, PlaceOrder):
                orders.append((index, intent))
                strategy.context.position = strategy.context.position.apply(
                    intent.side, intent.volume, candle.close, Decimal(0), candle.ts
                )
    return orders


@pytest.fixture(scope="module")
def tail(planted_bars: Bars) -> Bars:
    return Bars(planted_bars.frame.tail(700), planted_bars.interval)


def test_registered_as_ml_signal() -> None:
    assert strategy_registry()["ml_signal"] is MlSignal


def test_live_probabilities_equal_the_training_pipeline_and_trades_follow_the_thresholds(
    planted_model: Path, tail: Bars
) -> None:
    estimator = load_model(planted_model).estimator
    features = compute_features(tail.frame).drop(["ts", "close"]).to_numpy()
    complete = ~np.isnan(features).any(axis=1)
    expected = np.full(len(features), np.nan)
    expected[complete] = estimator.predict_proba(features[complete])[:, 1]

    strategy = make(planted_model)
    candles = list(to_candles(tail, SYMBOL))
    seen = []
    orders = []
    for index, candle in enumerate(candles):
        for _, order in feed(strategy, [candle]):
            orders.append((index, order.side))
        seen.append(np.nan if strategy.probability is None else strategy.probability)
    np.testing.assert_allclose(np.array(seen), expected, rtol=1e-9, atol=1e-12)

    wanted = []
    long = False
    for index, probability in enumerate(expected):
        if not long and probability >= ENTER:
            wanted.append((index, Side.BUY))
            long = True
        elif long and probability <= EXIT:
            wanted.append((index, Side.SELL))
            long = False
    assert len(wanted) >= 6
    assert orders == wanted


def test_orders_are_market_orders_of_one_entry_tagged_enter_then_exit(
    planted_model: Path, tail: Bars
) -> None:
    strategy = make(planted_model)
    orders = feed(strategy, list(to_candles(tail, SYMBOL)))
    assert all(order.order_type is OrderType.MARKET for _, order in orders)
    assert {order.volume for _, order in orders} == {Decimal("0.01")}
    assert [order.tag for _, order in orders[:2]] == ["ml enter", "ml exit"]


def test_while_its_order_is_in_flight_it_sends_nothing_more(
    planted_model: Path, tail: Bars
) -> None:
    strategy = make(planted_model)
    candles = list(to_candles(tail, SYMBOL))
    first_index, first = feed(strategy, candles)[0]
    pending = make(planted_model)
    feed(pending, candles[:first_index])
    assert pending.on_candle(candles[first_index]) == [first]
    pending.context.open_orders = (
        Order(
            cl_ord_id="ml-1",
            symbol=SYMBOL,
            side=first.side,
            order_type=OrderType.MARKET,
            volume=first.volume,
            status=OrderStatus.PENDING_NEW,
        ),
    )
    assert all(pending.on_candle(candle) is None for candle in candles[first_index + 1 :])
    assert pending.probability is not None


def test_the_signal_shows_the_warm_up_then_the_last_probability(
    planted_model: Path, tail: Bars
) -> None:
    strategy = make(planted_model)
    candles = list(to_candles(tail, SYMBOL))
    feed(strategy, candles[:10])
    assert strategy.signal == f"warming up: 10/{WARMUP_BARS} candles"
    feed(strategy, candles[10 : WARMUP_BARS + 5])
    assert strategy.probability is not None
    assert strategy.signal.startswith(f"p(up 3 bars) {strategy.probability:.3f} (enter ≥ 0.55")


def test_candles_still_forming_or_of_another_interval_are_ignored(
    planted_model: Path, tail: Bars
) -> None:
    strategy = make(planted_model)
    for candle in to_candles(tail, SYMBOL):
        assert strategy.on_candle(candle_like(candle, closed=False)) is None
        assert strategy.on_candle(candle_like(candle, interval=5)) is None
    assert strategy.signal == f"warming up: 0/{WARMUP_BARS} candles"


def candle_like(candle: Candle, *, closed: bool = True, interval: int = 1) -> Candle:
    return Candle(
        symbol=candle.symbol,
        interval=interval,
        ts=candle.ts,
        open=candle.open,
        high=candle.high,
        low=candle.low,
        close=candle.close,
        volume=candle.volume,
        closed=closed,
    )


def test_a_restarted_strategy_resumes_warm_with_the_same_predictions(
    planted_model: Path, tail: Bars
) -> None:
    candles = list(to_candles(tail, SYMBOL))
    running = make(planted_model)
    feed(running, candles[:400])
    saved = running.dump_state()

    restarted = make(planted_model)
    restarted.restore_state(saved)
    assert restarted.on_candle(candles[399]) is None  # the feed replays the last bar
    for candle in candles[400:460]:
        running.on_candle(candle)
        restarted.on_candle(candle)
        assert restarted.probability == pytest.approx(running.probability, abs=1e-6)


def test_after_a_gap_in_candles_a_restarted_strategy_warms_up_again(
    planted_model: Path, tail: Bars
) -> None:
    candles = list(to_candles(tail, SYMBOL))
    running = make(planted_model)
    feed(running, candles[:400])
    restarted = make(planted_model)
    restarted.restore_state(running.dump_state())
    restarted.on_candle(candles[450])
    assert restarted.probability is None
    assert restarted.signal == f"warming up: 1/{WARMUP_BARS} candles"


def test_a_book_model_without_a_book_makes_no_prediction(tmp_path: Path, tail: Bars) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, len(BOOK_FEATURES.names)))
    estimator = make_estimator("logreg").fit(x, (x[:, -1] > 0).astype(int))
    path = tmp_path / "book.ktmodel"
    save_model(
        path,
        estimator,
        ModelMetadata(
            model_kind="logreg",
            features=BOOK_FEATURES.names,
            feature_version=FEATURE_VERSION,
            horizon=3,
            fee_rate=0.0,
            interval=1,
            symbol=SYMBOL,
            train_start="2025-01-01T00:00:00+00:00",
            train_end="2025-01-02T00:00:00+00:00",
            n_samples=300,
            libraries=library_versions(),
        ),
    )
    strategy = make(path)
    assert feed(strategy, list(to_candles(tail, SYMBOL))[: WARMUP_BARS + 20]) == []
    assert strategy.probability is None
    assert strategy.signal == "no prediction: a feature is undefined on the last candle"


def test_an_unusable_model_file_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(StrategyConfigError, match=r"ml_test.*not found"):
        make(tmp_path / "nowhere.ktmodel")
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"weights": [1, 2]}))
    with pytest.raises(StrategyConfigError, match="pickle files are never loaded"):
        make(pickled)


def test_an_exit_threshold_above_the_entry_is_refused(planted_model: Path) -> None:
    with pytest.raises(StrategyConfigError, match="exit must not be above enter"):
        make(planted_model, enter=0.5, exit=0.6)
    with pytest.raises(StrategyConfigError, match=r"params\.enter"):
        make(planted_model, enter=1.5)
