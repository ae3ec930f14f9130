"""Writer process for the SIGKILL test: writes numbered batches through BatchingWriter forever.

Usage: python crash_writer.py DB_PATH MIGRATIONS_DIR BATCH_SIZE

Each batch is one `submit_many` of BATCH_SIZE rows, so the database must only ever hold whole
batches. Numbering resumes after the highest batch already stored; because the writer commits in
submission order, the stored batch ids must also stay contiguous from 0.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from kraken_tui.store import Store

INSERT = "INSERT INTO crash_batches (batch_id, seq, payload) VALUES (?, ?, ?)"
PAYLOAD = "x" * 200


async def write_forever(db_path: Path, migrations_dir: Path, batch_size: int) -> None:
    store = await Store.open(
        db_path,
        migrations_dir=migrations_dir,
        max_pending_rows=batch_size * 40,
        # Not a multiple of the batch size: a writer that split units would cut batches apart.
        max_batch_rows=batch_size * 8 + 7,
        flush_interval=0.005,
    )
    row = await store.database.fetch_one("SELECT COALESCE(MAX(batch_id), -1) FROM crash_batches")
    batch_id = (row[0] if row is not None else -1) + 1
    print(f"ready {batch_id}", flush=True)
    while True:
        rows = [(batch_id, seq, PAYLOAD) for seq in range(batch_size)]
        await store.writer.submit_many_wait(INSERT, rows)
        batch_id += 1


if __name__ == "__main__":
    asyncio.run(write_forever(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
