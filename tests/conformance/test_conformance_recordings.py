"""Every recording in this folder replays cleanly through the adapter and the engine.

Drop a file made by `kraken-tui record` here (a sandbox session, paper mode on Kraken's
real feed, a first live session) and the suite replays it offline: every book checksum must
match and every message parse. A recording shipped with `<name>.expected.json` (written by
`record_sandbox_session.py` from the recorded run's store) must also give exactly those
orders and fills.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from kraken_tui.recording.replay import ReplayReport, replay_report

HERE = Path(__file__).parent
RECORDINGS = sorted(HERE.glob("*.jsonl"))


def test_the_suite_ships_at_least_one_sandbox_recording() -> None:
    assert any(path.with_suffix(".expected.json").exists() for path in RECORDINGS)


@pytest.mark.parametrize("recording", RECORDINGS, ids=[path.stem for path in RECORDINGS])
def test_a_recording_replays_with_every_checksum_matching_and_every_message_parsed(
    recording: Path,
) -> None:
    report = asyncio.run(replay_report(recording))
    assert report.problems == ()
    assert report.unanswered == ()
    assert report.messages > 0


@pytest.mark.parametrize(
    "recording",
    [path for path in RECORDINGS if path.with_suffix(".expected.json").exists()],
    ids=lambda path: path.stem,
)
def test_a_shipped_recording_replays_into_the_orders_and_fills_its_run_stored(
    recording: Path,
) -> None:
    expected = json.loads(recording.with_suffix(".expected.json").read_text())
    report: ReplayReport = asyncio.run(replay_report(recording))
    orders = sorted([o.order_id, o.status.value, str(o.filled)] for o in report.orders)
    fills = sorted(
        [f.exec_id, f.order_id, str(f.qty), str(f.price), str(f.fee)] for f in report.fills
    )
    assert orders == expected["orders"]
    assert fills == expected["fills"]
    assert expected["fills"], "a shipped recording should show trading"
