"""Child process of the crash-safety test: an engine trading on a persistent SimulatedExchange
(the sandbox venue with its SQLite state) and a real store, until it is killed.

Run as `python crash_child.py DB VENUE_DB`; prints `trading` once started. The strategy is
`crash_strategies/churn.py:Churn`, loaded the way user strategies are.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from kraken_tui.clock import WallClock
from kraken_tui.engine.engine import EngineConfig, TradingEngine
from kraken_tui.engine.order_manager import LookupPolicy
from kraken_tui.sandbox.market import MarketSimulator
from kraken_tui.settings import StrategyConfig
from kraken_tui.store import Store

# Run as a script, outside pytest: put the shared test support on the path as pytest does.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from simulated_exchange import SimulatedExchange


async def _main(db: Path, venue_db: Path) -> None:
    exchange = SimulatedExchange.create(WallClock(), state_path=venue_db)
    market = MarketSimulator(exchange.venue, seed=int(time.time()), rate=300)
    market.step(time.time())
    store = await Store.open(db)
    config = EngineConfig(
        symbols=("BTC/USD",),
        strategies=(StrategyConfig(name="churn", class_name="churn.py:Churn", symbol="BTC/USD"),),
        strategy_dir=Path(__file__).parent / "crash_strategies",
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
    asyncio.run(_main(Path(sys.argv[1]), Path(sys.argv[2])))
