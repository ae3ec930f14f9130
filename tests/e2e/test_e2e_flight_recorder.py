"""The flight recorder end to end: `kraken-tui record` trades headless on a standalone
sandbox, and `kraken-tui replay` rebuilds from the file alone, with no network, the orders
and fills the recorded run stored."""

from __future__ import annotations

import asyncio
import json
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_support import (
    engine_db,
    sandbox_env,
    sma_cross,
    standalone_sandbox,
    stored_executions,
    stored_orders,
    write_config,
)

from kraken_tui.logging import REDACTED
from kraken_tui.recording.replay import ReplayReport, replay_report

RUN_S = 14.0


@dataclass(frozen=True)
class RecordedRun:
    workdir: Path
    recording: Path
    exit_code: int
    output: str
    api_key: str
    api_secret: str


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> RecordedRun:
    workdir = tmp_path_factory.mktemp("recorder")
    # Orders stay open at the end, so every state the store holds came over the feed.
    config = write_config(workdir, [sma_cross()], cancel_on_shutdown=False)
    recording = workdir / "recordings" / "session.jsonl"
    with standalone_sandbox(workdir) as box:
        command = [sys.executable, "-m", "kraken_tui", "--config", str(config), "record"]
        completed = subprocess.run(
            [*command, "--out", str(recording), "--duration", str(RUN_S)],
            cwd=workdir,
            env=sandbox_env(box),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_S + 60,
            check=False,
        )
        key, secret = box.api_key, box.api_secret
    return RecordedRun(workdir, recording, completed.returncode, completed.stderr, key, secret)


def _replayed(run: RecordedRun) -> ReplayReport:
    return asyncio.run(replay_report(run.recording))


def test_record_writes_public_and_private_traffic_and_rest_answers_to_a_private_file(
    recorded_run: RecordedRun,
) -> None:
    assert recorded_run.exit_code == 0, recorded_run.output[-3000:]
    lines = [json.loads(line) for line in recorded_run.recording.read_text().splitlines()]
    assert lines[0]["kind"] == "header" and lines[0]["mode"] == "sandbox"
    feeds = {line["feed"] for line in lines if line["kind"] == "ws"}
    assert feeds == {"public", "private"}
    methods = {line["method"] for line in lines if line["kind"] == "rest"}
    assert {"AssetPairs", "AddOrder", "GetWebSocketsToken", "BalanceEx"} <= methods
    assert stat.S_IMODE(recorded_run.recording.stat().st_mode) == 0o600


def test_the_recording_holds_no_key_secret_token_signature_or_nonce(
    recorded_run: RecordedRun,
) -> None:
    text = recorded_run.recording.read_text()
    assert recorded_run.api_key not in text
    assert recorded_run.api_secret not in text
    for field in ("token", "nonce", "API-Sign", "API-Key", "signature", "otp"):
        values = re.findall(rf'"{field}":("[^"]*"|[^,}}]+)', text, flags=re.IGNORECASE)
        assert all(value == f'"{REDACTED}"' for value in values), (field, set(values))
    assert f'"token":"{REDACTED}"' in text  # the GetWebSocketsToken answer was there


def test_replay_rebuilds_offline_the_orders_and_fills_the_recorded_run_stored(
    recorded_run: RecordedRun,
) -> None:
    db = engine_db(recorded_run.workdir)
    stored = {(o.order_id, o.status, o.filled) for o in stored_orders(db) if o.order_id}
    fills = {(e.exec_id, e.order_id, e.qty, e.price, e.fee) for e in stored_executions(db)}
    assert fills, f"the recorded run traded nothing in {RUN_S}s"

    report = _replayed(recorded_run)
    assert report.problems == ()
    assert report.unanswered == ()
    assert {(o.order_id, o.status.value, o.filled) for o in report.orders} == stored
    assert {(f.exec_id, f.order_id, f.qty, f.price, f.fee) for f in report.fills} == fills
    assert {"BTC", "USD"} <= set(report.balances)


def test_replay_command_prints_orders_fills_balances_and_no_problems(
    recorded_run: RecordedRun,
) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "kraken_tui", "replay", str(recorded_run.recording)],
        cwd=recorded_run.workdir,
        env={"PATH": "/usr/bin:/bin", "NO_PROXY": "*"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "no network" in completed.stdout
    assert re.search(r"^orders \(\d+\):", completed.stdout, flags=re.MULTILINE)
    assert re.search(r"^fills \([1-9]\d*\):", completed.stdout, flags=re.MULTILINE)
    assert "balances:" in completed.stdout
    assert "problems: none" in completed.stdout
