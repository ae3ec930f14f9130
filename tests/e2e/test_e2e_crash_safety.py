"""Crash safety of the real headless process: SIGKILL it at random moments while two
strategies trade on a time-scaled sandbox, restart it each time against the same sandbox and
database; after a clean run that reconciles, every sandbox order is stored exactly once, none
was sent twice, and the stored fills explain the sandbox's balances."""

from __future__ import annotations

import random
import time
from collections import Counter
from functools import partial
from pathlib import Path

import pytest
from e2e_support import (
    asset_changes,
    balance_changes,
    engine_db,
    headless_output,
    market_maker,
    rest_balances,
    rest_open_orders,
    run_headless,
    sandbox_fill_ids,
    sandbox_orders,
    sma_cross,
    standalone_sandbox,
    start_headless,
    stored_executions,
    stored_net_positions,
    stored_orders,
    wait_for,
    write_config,
)

KILLS = 10
"""Kills while the engine trades; STARTUP_KILLS more land during start-up and reconciliation."""
STARTUP_KILLS = 2
RUNNING = "engine starting -> running"
FINAL_RUN_S = 4.0
RECONCILE_RUN_S = 1.0
FINAL_STATUSES = {"filled", "canceled", "expired", "rejected"}


def _started_more_than(workdir: Path, starts: int) -> bool:
    return headless_output(workdir).count(RUNNING) > starts


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_no_order(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    trading = write_config(tmp_path, [sma_cross(), market_maker()])
    reconcile_only = write_config(tmp_path, [], file_name="reconcile.toml")
    state = tmp_path / "sandbox.sqlite3"
    with standalone_sandbox(tmp_path) as box:
        kills_while_trading = [True] * KILLS + [False] * STARTUP_KILLS
        rng.shuffle(kills_while_trading)
        for while_trading in kills_while_trading:
            starts = headless_output(tmp_path).count(RUNNING)
            process = start_headless(box, tmp_path, trading)
            if while_trading:
                assert wait_for(partial(_started_more_than, tmp_path, starts), 30)
                time.sleep(rng.uniform(0.1, 3.0))
            else:
                time.sleep(rng.uniform(0.3, 3.5))  # connecting, reconciling, warming up
            process.kill()
            assert process.wait(timeout=10) == -9
        assert run_headless(box, tmp_path, trading, FINAL_RUN_S) == 0, headless_output(tmp_path)
        # Nothing trades in this run: it reconciles, cancels leftovers, and both sides hold still.
        assert run_headless(box, tmp_path, reconcile_only, RECONCILE_RUN_S) == 0
        assert rest_open_orders(box) == {}
        balances = rest_balances(box)
        venue_orders = sandbox_orders(state, box.api_key)
        venue_fills = sandbox_fill_ids(state, box.api_key)

    db = engine_db(tmp_path)
    orders = stored_orders(db)
    assert len(venue_orders) > 3 * KILLS, "the strategies barely traded"
    sent_twice = [c for c, n in Counter(o.cl_ord_id for o in venue_orders).items() if n > 1]
    assert sent_twice == []

    by_order_id = {o.order_id: o for o in orders if o.order_id is not None}
    for venue_order in venue_orders:
        stored = by_order_id.get(venue_order.txid)
        assert stored is not None, f"sandbox order {venue_order.txid} missing from the store"
        assert stored.cl_ord_id == venue_order.cl_ord_id and not stored.external
        assert stored.filled == venue_order.vol_exec
        assert stored.status in FINAL_STATUSES
    assert set(by_order_id) == {o.txid for o in venue_orders}
    never_sent = [o for o in orders if o.order_id is None]
    assert {o.cl_ord_id for o in never_sent}.isdisjoint(o.cl_ord_id for o in venue_orders)
    assert all(o.status in FINAL_STATUSES for o in never_sent)

    executions = stored_executions(db)
    assert {e.exec_id for e in executions} == venue_fills
    assert len(executions) == len(venue_fills)
    changes = balance_changes(balances)
    assert asset_changes(executions) == changes
    positions = stored_net_positions(db)
    assert positions.get("BTC/USD", 0) == changes["BTC"]
    assert positions.get("ETH/USD", 0) == changes["ETH"]
