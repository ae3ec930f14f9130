"""Batching writer for the hot path: the engine queues writes and never waits for the disk.

Which writes go here: order status updates, position snapshots, equity snapshots, event-log
lines, kv updates: writes whose loss in a crash is repaired by startup reconciliation or is
harmless. Writes the engine must know are durable before it acts are awaited directly on the
repositories instead: the pending order written before it is sent (the write-ahead) and
executions (`insert_if_new`).

Atomicity: a unit is what one `submit`/`submit_many` call queued; a flush writes a batch of whole
units inside ONE transaction. After a crash the database therefore holds every unit of a batch or
none of them, never part of a `submit_many`.

Queue policy, when `max_pending` rows are waiting (the disk is not keeping up):
- `droppable=True` writes (equity snapshots, event-log lines: superseded by the next one) are
  dropped, counted in `stats.dropped`, and logged;
- any other `submit` raises `WriterOverflowError`: it is never dropped silently, and the caller
  learns at once that persistence is failing;
- `await submit_wait(...)` applies backpressure instead: it waits until the queue has room.
`submit` itself is synchronous and O(1): it appends to a deque and sets an event.

A unit SQLite rejects (a constraint violation, a failing disk) is retried alone after its batch
failed, then logged at ERROR, counted in `stats.failed` and discarded: retrying it forever would
wedge every later write behind it. Only the background task writes, so a cancelled `flush()`
never interrupts a transaction half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from loguru import logger

from kraken_tui.store.database import Database, Params
from kraken_tui.store.errors import StoreError, WriterClosedError, WriterOverflowError

DEFAULT_MAX_PENDING_ROWS = 50_000
DEFAULT_MAX_BATCH_ROWS = 1_000
DEFAULT_FLUSH_INTERVAL = 0.05
_DROP_LOG_EVERY = 1_000


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counts in rows (a `submit_many` of n rows counts n), except `batches` (transactions)."""

    submitted: int
    written: int
    dropped: int
    failed: int
    pending: int
    batches: int


@dataclass(frozen=True, slots=True)
class _Unit:
    sql: str
    rows: list[Params]


class BatchingWriter:
    def __init__(
        self,
        database: Database,
        *,
        max_pending_rows: int = DEFAULT_MAX_PENDING_ROWS,
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
    ) -> None:
        if max_pending_rows < 1 or max_batch_rows < 1 or flush_interval < 0:
            raise ValueError("writer limits must be positive")
        self._database = database
        self._max_pending_rows = max_pending_rows
        self._max_batch_rows = max_batch_rows
        self._flush_interval = flush_interval
        self._queue: deque[_Unit] = deque()
        self._pending_rows = 0
        self._wakeup = asyncio.Event()
        self._hurry = asyncio.Event()
        self._progress = asyncio.Event()
        self._room = asyncio.Event()
        self._enqueued_units = 0
        self._done_units = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._submitted = 0
        self._written = 0
        self._dropped = 0
        self._failed = 0
        self._batches = 0

    def start(self) -> asyncio.Task[None]:
        """Start the background flusher (once); needs a running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="store-batching-writer"
            )
        return self._task

    @property
    def stats(self) -> WriterStats:
        return WriterStats(
            submitted=self._submitted,
            written=self._written,
            dropped=self._dropped,
            failed=self._failed,
            pending=self._pending_rows,
            batches=self._batches,
        )

    def submit(self, sql: str, params: Params = (), *, droppable: bool = False) -> None:
        self._enqueue(_Unit(sql, [params]), droppable)

    def submit_many(self, sql: str, rows: Sequence[Params], *, droppable: bool = False) -> None:
        """All `rows` are committed in the same transaction, or none of them."""
        if rows:
            self._enqueue(_Unit(sql, list(rows)), droppable)

    async def submit_wait(self, sql: str, params: Params = ()) -> None:
        await self.submit_many_wait(sql, [params])

    async def submit_many_wait(self, sql: str, rows: Sequence[Params]) -> None:
        """Like `submit_many`, but waits for room in the queue instead of failing when full."""
        while not self._has_room(len(rows)):
            self._check_open()
            self._room.clear()
            await self._room.wait()
        self.submit_many(sql, rows)

    async def flush(self) -> None:
        """Return once everything submitted before the call is committed (or reported failed).
        Only the background task writes, so cancelling a flush never interrupts a transaction."""
        self.start()
        target = self._enqueued_units
        self._hurry.set()
        self._wakeup.set()
        while self._done_units < target:
            self._raise_if_stopped()
            self._progress.clear()
            await self._progress.wait()

    async def close(self) -> None:
        """Stop accepting writes, then write everything still queued."""
        if self._closed:
            return
        self._closed = True
        self._hurry.set()
        self._wakeup.set()
        self._room.set()
        await self.start()

    def _check_open(self) -> None:
        if self._closed:
            raise WriterClosedError("the store's batching writer is closed")

    def _has_room(self, rows: int) -> bool:
        return self._pending_rows == 0 or self._pending_rows + rows <= self._max_pending_rows

    def _enqueue(self, unit: _Unit, droppable: bool) -> None:
        self._check_open()
        size = len(unit.rows)
        if not self._has_room(size):
            if droppable:
                self._dropped += size
                if self._dropped % _DROP_LOG_EVERY < size:
                    logger.warning(
                        "store writer queue full ({} rows): dropped {} droppable rows so far",
                        self._pending_rows,
                        self._dropped,
                    )
                return
            raise WriterOverflowError(
                f"store writer queue full ({self._pending_rows} rows pending, limit "
                f"{self._max_pending_rows}); the database is not keeping up"
            )
        self._queue.append(unit)
        self._enqueued_units += 1
        self._pending_rows += size
        self._submitted += size
        self._wakeup.set()

    def _raise_if_stopped(self) -> None:
        if self._task is not None and self._task.done():
            error = None if self._task.cancelled() else self._task.exception()
            raise StoreError(
                f"the store's batching writer stopped with {self._pending_rows} rows unwritten"
            ) from error

    async def _run(self) -> None:
        try:
            while not (self._closed and not self._queue):
                await self._wakeup.wait()
                self._wakeup.clear()
                if not self._hurry.is_set() and self._pending_rows < self._max_batch_rows:
                    await self._gather_more_writes()
                if not self._closed:
                    self._hurry.clear()
                await self._drain()
        except Exception:
            logger.opt(exception=True).critical(
                "store batching writer stopped; {} queued rows are not written", self._pending_rows
            )
            raise
        finally:
            self._progress.set()
            self._room.set()

    async def _gather_more_writes(self) -> None:
        """Wait one flush interval so that one transaction carries many writes; `flush` and
        `close` cut the wait short."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._hurry.wait(), self._flush_interval)

    async def _drain(self) -> None:
        while self._queue:
            batch = self._take_batch()
            try:
                await self._write_batch(batch)
            except Exception:
                self._queue.extendleft(reversed(batch))
                raise
            self._pending_rows -= sum(len(unit.rows) for unit in batch)
            self._done_units += len(batch)
            self._progress.set()
            self._room.set()

    def _take_batch(self) -> list[_Unit]:
        batch = [self._queue.popleft()]
        rows = len(batch[0].rows)
        while self._queue and rows + len(self._queue[0].rows) <= self._max_batch_rows:
            unit = self._queue.popleft()
            batch.append(unit)
            rows += len(unit.rows)
        return batch

    async def _write_batch(self, batch: list[_Unit]) -> None:
        try:
            await self._database.execute_batch(_merge_same_statements(batch))
        except sqlite3.Error as exc:
            # One bad statement must not take the rest of the batch down with it: retry unit by
            # unit (each still atomic) and report the ones that fail.
            logger.warning(
                "store batch of {} units failed ({}); retrying one by one", len(batch), exc
            )
            for unit in batch:
                await self._write_unit_alone(unit)
            return
        self._written += sum(len(unit.rows) for unit in batch)
        self._batches += 1

    async def _write_unit_alone(self, unit: _Unit) -> None:
        try:
            await self._database.execute_batch([(unit.sql, unit.rows)])
        except sqlite3.Error as exc:
            self._failed += len(unit.rows)
            logger.error(
                "store write failed and was discarded: {} ({} rows): {}",
                unit.sql,
                len(unit.rows),
                exc,
            )
            return
        self._written += len(unit.rows)
        self._batches += 1


def _merge_same_statements(batch: list[_Unit]) -> list[tuple[str, list[Params]]]:
    """Consecutive units with the same SQL become one executemany: one thread hop, same order."""
    merged: list[tuple[str, list[Params]]] = []
    for unit in batch:
        if merged and merged[-1][0] == unit.sql:
            merged[-1][1].extend(unit.rows)
        else:
            merged.append((unit.sql, list(unit.rows)))
    return merged
