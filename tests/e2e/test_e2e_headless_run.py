"""A headless run of the real CLI with the crossover strategy on a time-scaled sandbox: it
places orders, gets fills, persists them, and its positions equal the sandbox's balances."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from e2e_support import (
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


def test_crossover_run_fills_persists_and_matches_sandbox_balances(tmp_path: Path) -> None:
    config = write_config(tmp_path, [sma_cross()])
    with standalone_sandbox(tmp_path) as box:
        exit_code = run_headless(box, tmp_path, config, RUN_S)
        assert exit_code == 0, headless_output(tmp_path)[-3000:]
        assert rest_open_orders(box) == {}
        balances = rest_balances(box)
        venue_orders = sandbox_orders(tmp_path / "sandbox.sqlite3", box.api_key)
        venue_fills = sandbox_fill_ids(tmp_path / "sandbox.sqlite3", box.api_key)

    db = engine_db(tmp_path)
    orders = stored_orders(db)
    executions = stored_executions(db)
    filled = [o for o in orders if o.strategy == "sma_fast" and o.status == "filled"]
    assert len(filled) >= 2, f"expected crossover trades in {RUN_S}s, store has {orders}"
    assert executions, "fills were not persisted"
    assert {e.exec_id for e in executions} == venue_fills

    by_txid = {o.txid: o for o in venue_orders}
    assert {o.order_id for o in orders} == set(by_txid)
    for order in orders:
        venue_order = by_txid[order.order_id or ""]
        assert venue_order.cl_ord_id == order.cl_ord_id
        assert venue_order.vol_exec == order.filled
    assert max(Counter(o.cl_ord_id for o in venue_orders).values()) == 1

    changes = balance_changes(balances)
    assert asset_changes(executions) == {k: v for k, v in changes.items() if k in ("BTC", "USD")}
    assert changes["ETH"] == 0
    assert stored_net_positions(db)["BTC/USD"] == changes["BTC"]
