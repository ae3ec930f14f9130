"""Out-of-sample backtests of the model strategy against buy-and-hold, through the project's
Backtester.

Training asks for one backtest per walk-forward fold: the `ml_signal` strategy, with that
fold's model file, over the fold's test window (fed `WARMUP_BARS - 1` earlier bars so its
first prediction falls on the window's first bar). `run_backtest` hands it to the real
`Backtester`: the unchanged strategy class, the RiskManager and the sandbox venue's matching
engine, orders filled at the next bar's open with Kraken's fee. Training takes the runner as a
parameter (`BacktestRunner`): `functools.partial(run_backtest, fill=FillModel(...),
risk=RiskLimits(...))` adds latency, slippage or risk limits.

Both legs are measured the same way against `notional`: the strategy buys one `notional` per
entry (the account holds twice that, so fees never starve an entry), buy-and-hold buys
`notional` at the window's first close paying the same fee, and both are marked to the last
close without a closing fee.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from kraken_tui.backtest.data import Bars
from kraken_tui.backtest.engine import BacktestConfig, Backtester
from kraken_tui.backtest.fill_model import FillModel
from kraken_tui.domain import Instrument
from kraken_tui.engine.risk import RiskLimits
from kraken_tui.ml.strategy import MlSignal
from kraken_tui.sandbox.fees import FeeSchedule
from kraken_tui.sandbox.pairs import PairRegistry

DEFAULT_NOTIONAL = Decimal("10000")


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    """Run `ml_signal` with `params` over `bars`, measuring from `trade_from` on (the bars
    before it only warm the features up)."""

    bars: Bars
    symbol: str
    params: Mapping[str, Any]
    trade_from: datetime
    fee_rate: Decimal
    notional: Decimal = DEFAULT_NOTIONAL


@dataclass(frozen=True, slots=True)
class BacktestOutcome:
    """Returns are fractions of the notional: 0.02 is +2%."""

    strategy_return: float
    buy_hold_return: float
    trades: int
    """Fills."""
    fees: Decimal
    bars: int
    time_in_market: float
    """Share of the measured bars that closed with a position."""
    round_trip_returns: tuple[float, ...] = field(default=())
    """Net return of each closed round trip on its entry value."""


BacktestRunner = Callable[[BacktestRequest], BacktestOutcome]


def instrument_for(symbol: str) -> Instrument:
    """Kraken's metadata for `symbol` (lot size, minimums), as the sandbox publishes it."""
    pair = PairRegistry().find(symbol)
    if pair is None:
        raise ValueError(f"unknown symbol {symbol!r}; use Kraken's name, e.g. XBT/USD or BTC/USD")
    return pair.to_instrument()


def run_backtest(
    request: BacktestRequest,
    *,
    fill: FillModel | None = None,
    risk: RiskLimits | None = None,
) -> BacktestOutcome:
    """Backtest `ml_signal` on the request's bars with the Backtester; compare with holding.
    `fill` (latency, spread, slippage, depth) and `risk` default to the Backtester's own
    defaults; bind them with `functools.partial` to make a runner for training."""
    frame = request.bars.frame
    measured = frame.filter(frame["ts"] >= request.trade_from)
    if measured.is_empty():
        raise ValueError("no bars at or after trade_from to backtest")
    notional = request.notional
    fee = request.fee_rate
    config = BacktestConfig(
        strategy=MlSignal.strategy_name,
        symbol=request.symbol,
        params={**request.params, "notional": str(notional)},
        cash=2 * notional,
        fees=FeeSchedule(maker=fee, taker=fee),
        fill=fill or FillModel(),
        risk=risk or RiskLimits(),
    )
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    # One row per prediction: worker threads would only add start-up cost to each call.
    with threadpool_limits(limits=1):
        result = Backtester(config, request.bars).run()
    equity = result.equity.filter(result.equity["ts"] > request.trade_from)["equity"]
    before = result.initial_equity
    first_close = Decimal(repr(measured["close"][0]))
    last_close = Decimal(repr(measured["close"][-1]))
    held = result.instrument.round_volume(notional / first_close)
    hold_gain = held * (last_close - first_close) - held * first_close * fee
    return BacktestOutcome(
        strategy_return=(float(equity[-1]) - before) / float(notional),
        buy_hold_return=float(hold_gain / notional),
        trades=len(result.fills),
        fees=result.fees_paid,
        bars=measured.height,
        time_in_market=result.exposure_bars / measured.height,
        round_trip_returns=tuple(
            float(trip.pnl / (trip.entry_price * trip.qty)) for trip in result.trips
        ),
    )
