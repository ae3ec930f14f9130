"""A headless run of the real CLI with the crossover strategy on a time-scaled sandbox: it
places orders, gets fills, persists them, and its positions equal the sandbox's balances. A
second, non-trading run then starts against the same store and sandbox, as after a restart."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from e2e_support import (
    VenueOrder,
    asset_changes,
    balance_changes,
    engine_db,
    headless_output,
    rest_balances,
    rest_open_orders,
    run_headless,
    sandbox_fill_ids,
    sandbox_orders,
    sma_cross,
    standalone_sandbox,
    stored_executions,
    stored_net_positions,
    stored_orders,
    write_config,
)

RUN_S = 14.0
RESTART_RUN_S = 1.0


@dataclass(frozen=True)
class CrossoverRun:
    workdir: Path
    exit_codes: tuple[int, int]
    open_after: dict[str, object]
    balances: dict[str, Decimal]
    venue_orders: list[VenueOrder]
    venue_fills: set[str]
    restart_output: str


@pytest.fixture(scope="module")
def crossover_run(tmp_path_factory: pytest.TempPathFactory) -> CrossoverRun:
    workdir = tmp_path_factory.mktemp("crossover")
    trading = write_config(workdir, [sma_cross()])
    # The restart subscribes to BTC/USD only, as after an operator trims the symbol list: ETH,
    # valued in the first run's peak equity, then has no price.
    restart = write_config(workdir, [], file_name="restart.toml", symbols=["BTC/USD"])
    state = workdir / "sandbox.sqlite3"
    with standalone_sandbox(workdir) as box:
        first = run_headless(box, workdir, trading, RUN_S)
        open_after = rest_open_orders(box)
        balances = rest_balances(box)
        venue_orders = sandbox_orders(state, box.api_key)
        venue_fills = sandbox_fill_ids(state, box.api_key)
        trading_output = headless_output(workdir)
        second = run_headless(box, workdir, restart, RESTART_RUN_S)
    restart_output = headless_output(workdir)[len(trading_output) :]
    return CrossoverRun(
        workdir,
        (first, second),
        open_after,
        balances,
        venue_orders,
        venue_fills,
        restart_output,
    )


def test_crossover_run_fills_persists_and_matches_sandbox_balances(
    crossover_run: CrossoverRun,
) -> None:
    run = crossover_run
    assert run.exit_codes == (0, 0), headless_output(run.workdir)[-3000:]
    assert run.open_after == {}
    db = engine_db(run.workdir)
    orders = stored_orders(db)
    executions = stored_executions(db)
    filled = [o for o in orders if o.strategy == "sma_fast" and o.status == "filled"]
    assert len(filled) >= 2, f"expected crossover trades in {RUN_S}s, store has {orders}"
    assert {e.exec_id for e in executions} == run.venue_fills

    by_txid = {o.txid: o for o in run.venue_orders}
    assert {o.order_id for o in orders} == set(by_txid)
    for order in orders:
        venue_order = by_txid[order.order_id or ""]
        assert venue_order.cl_ord_id == order.cl_ord_id
        assert venue_order.vol_exec == order.filled
    assert max(Counter(o.cl_ord_id for o in run.venue_orders).values()) == 1

    changes = balance_changes(run.balances)
    assert asset_changes(executions) == {k: v for k, v in changes.items() if k in ("BTC", "USD")}
    assert changes["ETH"] == 0
    assert stored_net_positions(db)["BTC/USD"] == changes["BTC"]


def test_restart_after_fills_reports_no_balance_mismatch(crossover_run: CrossoverRun) -> None:
    assert crossover_run.exit_codes[1] == 0
    assert "balance mismatch" not in crossover_run.restart_output


def test_restart_after_fills_does_not_fire_the_drawdown_kill_switch(
    crossover_run: CrossoverRun,
) -> None:
    assert crossover_run.exit_codes[1] == 0
    assert "kill switch fired" not in crossover_run.restart_output
