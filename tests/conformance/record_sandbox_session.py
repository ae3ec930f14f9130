"""Make a shipped conformance recording: `python tests/conformance/record_sandbox_session.py`.

Runs `kraken-tui record` headless against a standalone sandbox (quiet market, trading
scaled up so a short session fills), then writes beside the recording what the recorded
run stored (`<name>.expected.json`: orders and fills), which the conformance test compares
the replay with. Recordings made elsewhere (paper mode on Kraken's real feed, a live
session) can be dropped in without one: the test then checks they replay cleanly.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

from kraken_tui.sandbox.process import SandboxProcess
from kraken_tui.sandbox.ratelimits import Tier

HERE = Path(__file__).parent
NAME = "sandbox_sma_cross"
RUN_S = 12.0
CONFIG = """
symbols = ["BTC/USD", "ETH/USD"]
[exchange]
api_tier = "pro"
dead_man_switch_timeout_s = 0
[risk]
cancel_on_shutdown = false
[storage]
db_path = "{db}"
[logging]
dir = "{logs}"
[[strategies]]
name = "sma_fast"
class = "sma_cross"
symbol = "BTC/USD"
params = {{ fast = 1, slow = 3, notional = "500" }}
"""


def expected_from_store(db_path: Path) -> dict[str, list[list[str]]]:
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        orders = db.execute(
            "SELECT order_id, status, filled FROM orders WHERE order_id IS NOT NULL"
        ).fetchall()
        fills = db.execute("SELECT exec_id, order_id, qty, price, fee FROM executions").fetchall()
    return {
        "orders": sorted([str(v) for v in row] for row in orders),
        "fills": sorted([str(v) for v in row] for row in fills),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        config = work / "kraken_tui.toml"
        db = work / "engine.sqlite3"
        config.write_text(CONFIG.format(db=db, logs=work / "logs"))
        recording = HERE / f"{NAME}.jsonl"
        box = SandboxProcess(
            seed=11,
            rate=300.0,
            state_path=work / "sandbox.sqlite3",
            tier=Tier.PRO,
            time_scale=120.0,
            log_path=work / "sandbox.log",
        )
        with box:
            env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKEN_")}
            env |= {
                "KRAKEN_TUI_EXCHANGE__REST_URL": box.rest_url,
                "KRAKEN_TUI_EXCHANGE__WS_URL": box.ws_url,
                "KRAKEN_TUI_EXCHANGE__WS_AUTH_URL": box.ws_auth_url,
            }
            command = [sys.executable, "-m", "kraken_tui", "--config", str(config), "record"]
            subprocess.run(
                [*command, "--out", str(recording), "--duration", str(RUN_S)],
                cwd=work,
                env=env,
                check=True,
            )
        expected = expected_from_store(db)
        (HERE / f"{NAME}.expected.json").write_text(json.dumps(expected, indent=1) + "\n")
        print(f"{recording}: {len(expected['orders'])} orders, {len(expected['fills'])} fills")


if __name__ == "__main__":
    main()
