"""Crash safety: SIGKILL the engine at random moments while it trades, restart it each time;
in the end every venue order is stored exactly once, none was sent twice, and the positions
explain the venue's balances."""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from engine_fixtures import API_KEY, config, open_store, started
from loguru import logger
from simulated_exchange import SimulatedExchange

from kraken_tui.clock import WallClock
from kraken_tui.engine.portfolio import FIAT_SETTLEMENT_STEP

D = Decimal
HERE = Path(__file__).parent
KILLS = 10


def _run_and_kill(db: Path, venue_db: Path, rng: random.Random, log: Path) -> None:
    with log.open("a") as sink:
        child = subprocess.Popen(
            [sys.executable, str(HERE / "crash_child.py"), str(db), str(venue_db)],
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
        )
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "trading", f"child did not start, see {log}"
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)


@pytest.mark.slow
async def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path) -> None:
    db, venue_db = tmp_path / "engine.sqlite3", tmp_path / "venue.sqlite3"
    rng = random.Random(20261125)
    for _ in range(KILLS):
        _run_and_kill(db, venue_db, rng, tmp_path / "child.log")

    exchange = SimulatedExchange.create(WallClock(), state_path=venue_db)
    store = await open_store(tmp_path)
    assert store.path == db
    alerts: list[str] = []
    sink = logger.add(lambda m: alerts.append(m.record["message"]), level="CRITICAL")
    engine = await started(exchange, store, config())
    try:
        venue = exchange.venue
        venue_orders = list(venue.open_orders(API_KEY))
        venue_orders += venue.closed_orders(API_KEY, limit=100_000).items
        assert len(venue_orders) > 3 * KILLS, "the strategy barely traded"
        sent_twice = [c for c, n in Counter(o.cl_ord_id for o in venue_orders).items() if n > 1]
        assert sent_twice == []
        for venue_order in venue_orders:
            stored = await store.orders.by_order_id(venue_order.txid)
            assert stored is not None, f"venue order {venue_order.txid} missing from the store"
            assert stored.cl_ord_id == venue_order.cl_ord_id and not stored.external
            assert stored.filled == venue_order.vol_exec
        balances = await exchange.balances()
        position = engine.positions.position("BTC/USD")
        assert balances["BTC"].total == D(2) + position.qty
        # each fill's cost is settled rounded onto the USD step, not as the exact price x qty
        expected_usd = D(100_000) + engine.positions.asset_flows()["USD"]
        allowance = FIAT_SETTLEMENT_STEP * engine.positions.settlements().get("USD", 0)
        assert abs(balances["USD"].total - expected_usd) <= allowance
        fills = venue.trades_history(API_KEY, limit=100_000).items
        assert len(await store.executions.since(None)) == len(fills)
        assert alerts == []
    finally:
        logger.remove(sink)
        await engine.stop(cancel_open_orders=True)
        await store.close()
        exchange.venue.close()
