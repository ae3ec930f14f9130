"""Child process of the crash-safety test: an engine trading on a persistent SimulatedExchange
(the sandbox venue with its SQLite state) and a real store, until it is killed.

Run as `python crash_child.py DB VENUE_DB STRATEGY_DIR`; prints `trading` once started.
The strategy class below is loaded by the engine from STRATEGY_DIR as `crash_child.py:Churn`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from kraken_tui.domain import Side
from kraken_tui.strategies import BaseStrategy, Intents

D = Decimal
SIZE = D("0.001")


class Churn(BaseStrategy):
    """Every tick: cancel its resting orders, trade at market (alternating sides, so fills
    keep coming), and rest a new bid under the mid — fills, acks and cancels all the time."""

    timer_interval_s = 0.03

    def on_timer(self, now: datetime) -> Intents:
        n = self.state.get("n", 0) + 1
        self.state["n"] = n
        intents: list = [self.cancel_all()]
        intents.append(self.buy(SIZE) if n % 2 else self.sell(SIZE))
        if self.mid is not None:
            intents.append(self.limit(Side.BUY, SIZE, self.mid * D("0.995")))
        return intents


async def _main(db: Path, venue_db: Path, strategy_dir: Path) -> None:
    from kraken_tui.engine.clock import WallClock
    from kraken_tui.engine.engine import EngineConfig, TradingEngine
    from kraken_tui.engine.order_manager import LookupPolicy
    from kraken_tui.exchange.simulated import SimulatedExchange
    from kraken_tui.sandbox.market import MarketSimulator
    from kraken_tui.settings import StrategyConfig
    from kraken_tui.store import Store

    exchange = SimulatedExchange.create(WallClock(), state_path=venue_db)
    market = MarketSimulator(exchange.venue, seed=int(time.time()), rate=300)
    market.step(time.time())
    store = await Store.open(db)
    config = EngineConfig(
        symbols=("BTC/USD",),
        strategies=(
            StrategyConfig(name="churn", class_name="crash_child.py:Churn", symbol="BTC/USD"),
        ),
        strategy_dir=strategy_dir,
        housekeeping_s=0.01,
        lookup=LookupPolicy(absent_checks=3, backoff_s=0.01, max_backoff_s=0.05),
    )
    engine = TradingEngine(exchange, store, config)
    await engine.start()
    print("trading", flush=True)
    while True:
        await asyncio.sleep(0.01)
        market.step(time.time())


if __name__ == "__main__":
    asyncio.run(_main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
