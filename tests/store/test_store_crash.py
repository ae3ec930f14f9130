"""SIGKILL in the middle of batches: the file stays sound and holds only whole batches."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO_DB_DIR = Path(__file__).resolve().parents[2] / "db"
WRITER_SCRIPT = Path(__file__).with_name("crash_writer.py")
BATCH_SIZE = 50
KILLS = 6


def _batch_sizes(db_path: Path) -> dict[int, int]:
    with sqlite3.connect(db_path) as connection:
        return dict(
            connection.execute(
                "SELECT batch_id, COUNT(*) FROM crash_batches GROUP BY batch_id"
            ).fetchall()
        )


def _start_writer(db_path: Path, migrations_dir: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, str(WRITER_SCRIPT), str(db_path), str(migrations_dir), str(BATCH_SIZE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    ready = process.stdout.readline()  # blocks until the store is open and migrated
    assert ready.startswith("ready"), f"writer did not start: {ready!r}"
    return process


def test_sigkill_mid_batch_leaves_a_sound_database_with_only_whole_batches(
    tmp_path: Path,
) -> None:
    migrations_dir = tmp_path / "migrations"
    shutil.copytree(REPO_DB_DIR, migrations_dir)
    (migrations_dir / "900_crash_batches.sql").write_text(
        "CREATE TABLE crash_batches (batch_id INTEGER NOT NULL, seq INTEGER NOT NULL, "
        "payload TEXT NOT NULL, PRIMARY KEY (batch_id, seq)) STRICT;\n"
    )
    db_path = tmp_path / "crash.sqlite3"
    rng = random.Random()
    stored_after_each_kill: list[int] = []

    for _ in range(KILLS):
        process = _start_writer(db_path, migrations_dir)
        time.sleep(rng.uniform(0.2, 0.8))
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
        # The write-ahead log is still there: the process died with the database open.
        assert db_path.with_name(db_path.name + "-wal").exists()
        stored_after_each_kill.append(len(_batch_sizes(db_path)))

    with sqlite3.connect(db_path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    sizes = _batch_sizes(db_path)
    assert sizes, "the writer never committed a batch"
    assert set(sizes.values()) == {BATCH_SIZE}, "a batch was committed partly"
    assert sorted(sizes) == list(range(len(sizes))), "a batch went missing between others"
    # Every run committed something before it was killed, so each kill hit a live writer.
    previous = [0, *stored_after_each_kill[:-1]]
    assert all(now > before for before, now in zip(previous, stored_after_each_kill, strict=True))
