"""Out-of-sample backtests of a model strategy against buy-and-hold.

Training asks a `BacktestRunner` to run the `ml_signal` strategy, with a model file, over bars
the model never saw, and to report its return next to buying and holding over the same span.
`replay_backtest` is the runner used by default: it drives the real `ml_signal` strategy class
(model file loaded and checked, features computed incrementally, thresholds applied, intents
returned) over the candles on a virtual clock, fills each market order at the candle's close
and charges the taker fee on it. The project's full Backtester (matching engine, latency,
slippage, risk checks) answers the same `BacktestRequest` and plugs in through the same
callable.

Both legs are valued the same way, marked to the last close without a closing fee, and the
buy-and-hold leg pays the same fee to get in, so the comparison is like for like.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from threadpoolctl import threadpool_limits

from kraken_tui.backtest.data import Bars, to_candles
from kraken_tui.domain import Instrument, OrderType, Position, Side
from kraken_tui.domain.money import ZERO
from kraken_tui.engine.clock import VirtualClock
from kraken_tui.ml.strategy import MlSignal
from kraken_tui.sandbox.pairs import PairRegistry
from kraken_tui.strategies.base import PlaceOrder, StrategyContext

DEFAULT_NOTIONAL = Decimal("10000")


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    """Run `strategy` with `params` over `bars`, trading only on candles at or after
    `trade_from` (the bars before it warm the features up)."""

    bars: Bars
    symbol: str
    params: Mapping[str, Any]
    trade_from: datetime
    fee_rate: Decimal
    notional: Decimal = DEFAULT_NOTIONAL
    strategy: str = "ml_signal"


@dataclass(frozen=True, slots=True)
class BacktestOutcome:
    """Returns are fractions of `notional`: 0.02 is +2%."""

    strategy_return: float
    buy_hold_return: float
    trades: int
    fees: Decimal
    bars: int
    time_in_market: float
    """Fraction of the traded bars that ended with a position."""
    round_trip_returns: tuple[float, ...] = field(default=())


BacktestRunner = Callable[[BacktestRequest], BacktestOutcome]


def instrument_for(symbol: str) -> Instrument:
    """Kraken's metadata for `symbol` (lot size, minimums), as the sandbox publishes it."""
    pair = PairRegistry().find(symbol)
    if pair is None:
        raise ValueError(f"unknown symbol {symbol!r}; use Kraken's name, e.g. XBT/USD or BTC/USD")
    return pair.to_instrument()


def replay_backtest(request: BacktestRequest) -> BacktestOutcome:
    """Replay the `ml_signal` strategy over the request's bars, filling at each close."""
    if request.strategy != MlSignal.strategy_name:
        raise ValueError(f"the replay runs ml_signal only, not {request.strategy!r}")
    instrument = instrument_for(request.symbol)
    symbol = instrument.symbol
    clock = VirtualClock(request.bars.frame["ts"][0])
    context = StrategyContext(instrument=instrument, clock=clock)
    params = {"notional": str(request.notional), **request.params}
    strategy = MlSignal.from_config("ml_replay", symbol, params, context)
    interval = timedelta(minutes=request.bars.interval)

    account = _Account(request.notional, request.fee_rate)
    first_close: Decimal | None = None
    last_close = ZERO
    # One row per prediction: worker threads would only add start-up cost to each call.
    with threadpool_limits(limits=1):
        for candle in to_candles(request.bars, symbol):
            clock.set(candle.ts + interval)
            intents = strategy.on_candle(candle) or ()
            if candle.ts < request.trade_from:
                continue
            if first_close is None:
                first_close = candle.close
            last_close = candle.close
            for intent in intents:
                if isinstance(intent, PlaceOrder):
                    context.position = account.fill(
                        intent, candle.close, context.position, candle.ts
                    )
            account.mark(context.position.qty)
    if first_close is None:
        raise ValueError("no bars at or after trade_from to backtest")
    equity = account.cash + context.position.qty * last_close
    strategy_return = float(equity / request.notional - 1)
    held = instrument.round_volume(request.notional / first_close)
    entry_fee = held * first_close * request.fee_rate
    hold_equity = request.notional - held * first_close - entry_fee + held * last_close
    return BacktestOutcome(
        strategy_return=strategy_return,
        buy_hold_return=float(hold_equity / request.notional - 1),
        trades=account.trades,
        fees=account.fees,
        bars=account.bars,
        time_in_market=account.bars_held / account.bars,
        round_trip_returns=tuple(account.round_trips),
    )


class _Account:
    """Cash, fees and round trips of the replayed strategy."""

    def __init__(self, cash: Decimal, fee_rate: Decimal) -> None:
        self.cash = cash
        self.fee_rate = fee_rate
        self.fees = ZERO
        self.trades = 0
        self.bars = 0
        self.bars_held = 0
        self.round_trips: list[float] = []
        self._entry_cost: Decimal | None = None

    def fill(self, order: PlaceOrder, price: Decimal, position: Position, ts: datetime) -> Position:
        """Fill a market order at `price`, paying the taker fee; the position after it."""
        if order.order_type is not OrderType.MARKET:
            raise ValueError(f"the replay fills market orders only, got {order.order_type}")
        cost = order.volume * price
        fee = cost * self.fee_rate
        self.fees += fee
        self.trades += 1
        if order.side is Side.BUY:
            self.cash -= cost + fee
            self._entry_cost = cost + fee
        else:
            self.cash += cost - fee
            if self._entry_cost is not None:
                self.round_trips.append(float((cost - fee) / self._entry_cost - 1))
                self._entry_cost = None
        return position.apply(order.side, order.volume, price, fee, ts)

    def mark(self, held: Decimal) -> None:
        self.bars += 1
        self.bars_held += held > ZERO
