"""BatchingWriter: grouping, atomic units, queue policy and draining on shutdown."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from kraken_tui.store import Store, WriterClosedError, WriterOverflowError

INSERT_EVENT = "INSERT INTO event_log (ts, severity, source, message) VALUES (?, 'INFO', ?, ?)"


def _rows_on_disk(db_path: Path) -> list[tuple[str, str]]:
    """Read through an independent connection: only committed rows are visible."""
    with sqlite3.connect(db_path) as connection:
        return connection.execute("SELECT source, message FROM event_log ORDER BY id").fetchall()


async def _open(tmp_path: Path, **options: float) -> Store:
    # A long flush interval keeps the background task out of the way unless a test wants it.
    options.setdefault("flush_interval", 60.0)
    return await Store.open(tmp_path / "kraken.sqlite3", **options)  # type: ignore[arg-type]


async def test_submit_only_queues_so_a_held_write_lock_cannot_block_it(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    # Another connection holds the write lock: a submit that wrote would wait, then fail.
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        for index in range(1_000):
            store.writer.submit(INSERT_EVENT, ("2026", "src", str(index)))
        assert _rows_on_disk(store.path) == []
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    await store.writer.flush()
    assert len(_rows_on_disk(store.path)) == 1_000
    await store.close()


async def test_close_drains_everything_still_queued(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    for index in range(250):
        store.writer.submit(INSERT_EVENT, ("2026", "src", str(index)))

    await store.close()

    assert [int(message) for _, message in _rows_on_disk(store.path)] == list(range(250))


async def test_writes_are_grouped_into_batches_of_at_most_max_batch_rows(tmp_path: Path) -> None:
    store = await _open(tmp_path, max_batch_rows=4)
    for index in range(10):
        store.writer.submit(INSERT_EVENT, ("2026", "src", str(index)))

    await store.writer.flush()

    stats = store.writer.stats
    assert (stats.written, stats.batches, stats.pending) == (10, 3, 0)
    await store.close()


async def test_submit_many_is_one_unit_never_split_across_transactions(tmp_path: Path) -> None:
    store = await _open(tmp_path, max_batch_rows=3)
    store.writer.submit_many(INSERT_EVENT, [("2026", "many", str(i)) for i in range(5)])
    store.writer.submit(INSERT_EVENT, ("2026", "single", "x"))

    await store.writer.flush()

    assert store.writer.stats.batches == 2
    assert len(_rows_on_disk(store.path)) == 6
    await store.close()


async def test_background_task_flushes_without_being_asked(tmp_path: Path) -> None:
    store = await _open(tmp_path, flush_interval=0.01)
    store.writer.submit(INSERT_EVENT, ("2026", "src", "hello"))

    for _ in range(500):  # polls the file from outside: there is no event to wait on
        if _rows_on_disk(store.path):
            break
        await asyncio.sleep(0.01)

    assert _rows_on_disk(store.path) == [("src", "hello")]
    await store.close()


async def test_full_queue_drops_only_droppable_writes_and_refuses_the_rest(
    tmp_path: Path,
) -> None:
    store = await _open(tmp_path, max_pending_rows=2)
    store.writer.submit(INSERT_EVENT, ("2026", "src", "1"))
    store.writer.submit(INSERT_EVENT, ("2026", "src", "2"))

    store.writer.submit(INSERT_EVENT, ("2026", "src", "dropped"), droppable=True)
    with pytest.raises(WriterOverflowError, match="queue full"):
        store.writer.submit(INSERT_EVENT, ("2026", "src", "refused"))

    assert store.writer.stats.dropped == 1
    await store.close()
    assert [message for _, message in _rows_on_disk(store.path)] == ["1", "2"]


async def test_submit_wait_applies_backpressure_until_the_queue_has_room(tmp_path: Path) -> None:
    store = await _open(tmp_path, max_pending_rows=2)
    store.writer.submit(INSERT_EVENT, ("2026", "src", "1"))
    store.writer.submit(INSERT_EVENT, ("2026", "src", "2"))

    waiting = asyncio.create_task(store.writer.submit_wait(INSERT_EVENT, ("2026", "src", "3")))
    await asyncio.sleep(0.05)
    assert not waiting.done()

    await store.writer.flush()
    await asyncio.wait_for(waiting, timeout=5)
    await store.close()
    assert [message for _, message in _rows_on_disk(store.path)] == ["1", "2", "3"]


async def test_one_bad_write_does_not_lose_the_rest_of_its_batch(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    store.writer.submit(INSERT_EVENT, ("2026", "src", "before"))
    store.writer.submit(
        "INSERT INTO event_log (ts, severity, source, message) VALUES ('2026', 'LOUD', 's', 'm')"
    )
    store.writer.submit(INSERT_EVENT, ("2026", "src", "after"))

    await store.writer.flush()

    assert (store.writer.stats.written, store.writer.stats.failed) == (2, 1)
    assert [message for _, message in _rows_on_disk(store.path)] == ["before", "after"]
    await store.close()


async def test_submit_after_close_is_an_error(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    await store.close()

    with pytest.raises(WriterClosedError):
        store.writer.submit(INSERT_EVENT, ("2026", "src", "late"))


async def test_cancelled_flush_neither_loses_nor_repeats_writes(tmp_path: Path) -> None:
    store = await _open(tmp_path, max_batch_rows=10)
    for index in range(200):
        store.writer.submit(INSERT_EVENT, ("2026", "src", str(index)))

    impatient = asyncio.create_task(store.writer.flush())
    await asyncio.sleep(0.001)
    impatient.cancel()
    await store.writer.flush()

    assert [int(message) for _, message in _rows_on_disk(store.path)] == list(range(200))
    await store.close()
