"""Backtest throughput: our Backtester against backtesting.py on a year of minute bars.

One year of synthetic but realistic 1-minute XBT/USD bars (525,600, `kraken_tui.backtest.
synthetic`, seeded) is replayed twice in the same process with the same rules:

* SMA crossover, fast 10 / slow 30 on closes, long/flat: a golden cross buys, a death cross
  sells the whole position; a cross is a strict change of side between two consecutive
  closed bars (`backtesting.lib.crossover`);
* orders are decided on a bar's close and filled at the next bar's open, with zero fees and
  no spread or slippage.

Ours runs the real `sma_cross` strategy class through `Backtester`, with its risk checks and
the sandbox venue's rules (a market order meeting the fill model's unlimited depth is settled
in closed form by `MarketSettlement`, which property tests hold equal to the venue's own
matching fill for fill, base- and quote-sized alike). The reference is
`backtesting.lib.FractionalBacktest` (satoshi units). Both feed the crossover the same
moving averages, those of our `SMA` indicator, because two correct SMA implementations round
differently and disagree on the exact ties where fast equals slow, which would change the
trade count for reasons unrelated to the backtesters.

Order size: all in. `sma_cross` runs with `all_in = true`: each entry from flat is a market
buy sized in quote (Kraken's `viqc`) spending the whole free balance, so the volume is set
by the price it fills at, as backtesting.py sizes `buy(size=ALL_IN_FRACTION)` (its way of
saying all of the available cash). The bars' opens sit off the previous close
(`--open-jitter`, 2 bp by default) as in real minute data, so an entry sized on the signal
bar's close would not match. Zero fees, as the issue asks: at Kraken's 0.26% per side ten
thousand round trips drain the account to dust. Trade counts must then be equal and final
equities within 0.01%.

Both timers run from construction to the computed statistics: ours builds its `Backtester`,
runs it and computes its report (`compute_metrics`), as backtesting.py builds its `Backtest`,
runs it and computes its stats; the sides alternate (`--repeat`) and each keeps its best run.

Generating the bars is timed too (`generate_s`): a year of minute bars should take a few
seconds (under 5 s here), or every test and sweep that builds a market waits on it.

    scripts/bench backtest [--bars N] [--seed S] [--open-jitter F] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
from backtesting import Strategy
from backtesting.lib import FractionalBacktest, crossover
from loguru import logger

from kraken_tui.backtest.clock import MINUTES_PER_YEAR
from kraken_tui.backtest.data import Bars
from kraken_tui.backtest.engine import BacktestConfig, Backtester
from kraken_tui.backtest.report import compute_metrics
from kraken_tui.backtest.synthetic import MarketModel, generate_bars
from kraken_tui.indicators import SMA
from kraken_tui.sandbox.fees import FeeSchedule

FAST = 10
SLOW = 30
ALL_IN_FRACTION = 1 - 1e-12
"""backtesting.py's largest fraction of the available cash (1 itself would mean one unit)."""
CASH = Decimal(100_000)
OPEN_JITTER = 0.0002
"""Opens 2 bp (one standard deviation) off the previous close, as in real minute bars."""
EQUITY_TOLERANCE = 1e-4


def run_ours(bars: Bars) -> tuple[float, int, float]:
    """(seconds, closed trades, final equity) of our Backtester with `sma_cross`, timed from
    its construction to its computed report, as the reference is timed from its constructor
    to its statistics."""
    config = BacktestConfig(
        strategy="sma_cross",
        symbol="XBT/USD",
        params={"fast": FAST, "slow": SLOW, "all_in": True, "long_only": True},
        cash=CASH,
        fees=FeeSchedule(maker=Decimal(0), taker=Decimal(0)),
    )
    started = time.perf_counter()
    result = Backtester(config, bars).run()
    metrics = compute_metrics(result)
    elapsed = time.perf_counter() - started
    if result.orders_rejected or result.risk_denials:
        raise SystemExit(
            f"our run refused orders ({result.orders_rejected} by the venue, "
            f"{result.risk_denials} by risk): the comparison would be unfair"
        )
    return elapsed, metrics.trade_count, metrics.final_equity


def our_sma(closes: np.ndarray, period: int) -> np.ndarray:
    indicator = SMA(period)
    values = [indicator.update(close) for close in closes.tolist()]
    return np.array([np.nan if value is None else value for value in values])


class ReferenceSmaCross(Strategy):
    fast_values: np.ndarray = np.empty(0)
    slow_values: np.ndarray = np.empty(0)

    def init(self) -> None:
        self.fast = self.I(lambda: self.fast_values, name="fast")
        self.slow = self.I(lambda: self.slow_values, name="slow")

    def next(self) -> None:
        if crossover(self.fast, self.slow):
            if not self.position:
                self.buy(size=ALL_IN_FRACTION)
        elif crossover(self.slow, self.fast):
            self.position.close()


def run_reference(bars: Bars) -> tuple[float, int, float]:
    """(seconds, closed trades, final equity) of backtesting.py's FractionalBacktest."""
    frame = bars.frame
    closes = frame["close"].to_numpy()
    data = pd.DataFrame(
        {
            "Open": frame["open"].to_numpy(),
            "High": frame["high"].to_numpy(),
            "Low": frame["low"].to_numpy(),
            "Close": closes,
            "Volume": frame["volume"].to_numpy(),
        },
        index=pd.DatetimeIndex(frame["ts"].dt.replace_time_zone(None).to_numpy()),
    )
    satoshi = Decimal("1e-8")
    ReferenceSmaCross.fast_values = our_sma(closes, FAST)
    ReferenceSmaCross.slow_values = our_sma(closes, SLOW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        backtest = FractionalBacktest(
            data,
            ReferenceSmaCross,
            cash=float(CASH),
            commission=0.0,
            trade_on_close=False,
            fractional_unit=float(satoshi),
        )
        stats = backtest.run()
        elapsed = time.perf_counter() - started
    return elapsed, len(stats["_trades"]), float(stats["Equity Final [$]"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=MINUTES_PER_YEAR)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each side, interleaved; best of them"
    )
    parser.add_argument(
        "--open-jitter",
        type=float,
        default=OPEN_JITTER,
        help="spread of each open around the previous close (fraction of price; 0: none)",
    )
    args = parser.parse_args()
    logger.remove()

    started = time.perf_counter()
    bars = generate_bars(args.bars, seed=args.seed, model=MarketModel(open_jitter=args.open_jitter))
    generate_s = time.perf_counter() - started
    ours_runs: list[tuple[float, int, float]] = []
    ref_runs: list[tuple[float, int, float]] = []
    for _ in range(args.repeat):
        ours_runs.append(run_ours(bars))
        ref_runs.append(run_reference(bars))
    ours_s, ours_trades, ours_equity = min(ours_runs)
    ref_s, ref_trades, ref_equity = min(ref_runs)
    ours_rate = args.bars / ours_s
    ref_rate = args.bars / ref_s
    ratio = ours_rate / ref_rate
    difference = abs(ours_equity - ref_equity) / ref_equity

    print(f"bars: {args.bars:,} one-minute bars, seed {args.seed}, SMA {FAST}/{SLOW}")
    print(f"generating the bars: {generate_s:6.2f} s")
    print(f"ours (sma_cross via Backtester): {ours_s:6.2f} s  {ours_rate:>10,.0f} bars/s")
    print(f"backtesting.py (Fractional):     {ref_s:6.2f} s  {ref_rate:>10,.0f} bars/s")
    print(f"ratio: {ratio:.2f}x (best of {args.repeat} interleaved runs each)")
    print(f"trades: ours {ours_trades:,}, reference {ref_trades:,}")
    print(f"final equity: ours {ours_equity:,.2f}, reference {ref_equity:,.2f} ")
    print(f"equity difference: {difference:.6%} (tolerance {EQUITY_TOLERANCE:.2%})")
    agree = ours_trades == ref_trades and difference <= EQUITY_TOLERANCE
    print("agreement: OK" if agree else "agreement: FAILED")
    result = {
        "generate_s": round(generate_s, 2),
        "ratio": round(ratio, 3),
        "ours_bars_per_s": round(ours_rate),
        "reference_bars_per_s": round(ref_rate),
        "trades_ours": ours_trades,
        "trades_reference": ref_trades,
        "equity_ours": round(ours_equity, 2),
        "equity_reference": round(ref_equity, 2),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(f"RESULT {json.dumps(result)}")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
