"""SIGTERM on the real headless process while it holds resting orders: a clean exit 0 that
either cancels them (`risk.cancel_on_shutdown = true`) or leaves them to the exchange's dead
man's switch, which then cancels them once its timeout passes without a refresh. The orders
come from a user strategy that leaves them alone when it stops, so what happens to them is
the engine's shutdown alone."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_support import (
    StoredOrder,
    engine_db,
    headless_output,
    rest_open_orders,
    resting_bids,
    sandbox_open_txids,
    sandbox_orders,
    standalone_sandbox,
    start_headless,
    stop_with,
    stored_orders,
    wait_for,
    write_config,
)

DEAD_MAN_TIMEOUT_S = 8
"""Short enough for a test, long enough that it cannot expire during a clean shutdown."""
BIDS = 2


@dataclass(frozen=True)
class CancellingShutdown:
    exit_code: int
    output: str
    open_after: dict[str, object]
    stored: list[StoredOrder]


@pytest.fixture(scope="module")
def cancelling_shutdown(tmp_path_factory: pytest.TempPathFactory) -> CancellingShutdown:
    workdir = tmp_path_factory.mktemp("sigterm_cancel")
    config = write_config(workdir, [resting_bids()], cancel_on_shutdown=True)
    state = workdir / "sandbox.sqlite3"
    with standalone_sandbox(workdir, time_scale=1.0) as box:
        process = start_headless(box, workdir, config)
        try:
            assert wait_for(lambda: len(sandbox_open_txids(state, box.api_key)) >= BIDS, 20)
        finally:
            exit_code = stop_with(process, signal.SIGTERM, timeout=30)
        open_after = rest_open_orders(box)
    return CancellingShutdown(
        exit_code, headless_output(workdir), open_after, stored_orders(engine_db(workdir))
    )


def test_sigterm_exits_0_and_cancels_open_orders(cancelling_shutdown: CancellingShutdown) -> None:
    assert cancelling_shutdown.exit_code == 0, cancelling_shutdown.output[-3000:]
    assert "received SIGTERM" in cancelling_shutdown.output
    assert cancelling_shutdown.open_after == {}
    bids = [o for o in cancelling_shutdown.stored if o.strategy == "resting_bids"]
    assert len(bids) == BIDS and all(o.order_id for o in bids)


def test_sigterm_without_cancel_leaves_orders_to_the_dead_man_switch(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        [resting_bids()],
        cancel_on_shutdown=False,
        dead_man_switch_timeout_s=DEAD_MAN_TIMEOUT_S,
    )
    state = tmp_path / "sandbox.sqlite3"
    with standalone_sandbox(tmp_path, time_scale=1.0) as box:
        process = start_headless(box, tmp_path, config)
        try:
            assert wait_for(lambda: len(sandbox_open_txids(state, box.api_key)) >= BIDS, 20)
            assert wait_for(lambda: "dead man's switch armed" in headless_output(tmp_path), 10)
        finally:
            exit_code = stop_with(process, signal.SIGTERM, timeout=30)
        exited_at = time.monotonic()
        assert exit_code == 0, headless_output(tmp_path)[-3000:]
        left = set(rest_open_orders(box))
        assert len(left) == BIDS, "orders were cancelled although cancel_on_shutdown is false"

        assert wait_for(lambda: not sandbox_open_txids(state, box.api_key), DEAD_MAN_TIMEOUT_S + 5)
        assert time.monotonic() - exited_at <= DEAD_MAN_TIMEOUT_S + 5
        assert rest_open_orders(box) == {}
        reasons = {o.txid: o.reason for o in sandbox_orders(state, box.api_key)}
        assert {reasons[txid] for txid in left} == {"Dead man's switch"}
