"""One SQLite connection shared by the repositories and the batching writer.

aiosqlite runs sqlite3 in its own thread, so disk I/O never blocks the event loop; the loop only
awaits a future. Everything goes through one connection and one `asyncio.Lock`: a transaction is
a run of awaits on that connection, and without the lock a repository call could land inside the
writer's open batch (joining it, or committing half of it). Reads take the lock too, so they
never see a batch that is only partly written.

Pragmas, and why:
- `journal_mode=WAL`: readers and the writer do not block each other, and a crash leaves the main
  file intact; uncommitted frames in the `-wal` file are discarded on the next open.
- `synchronous=NORMAL`: in WAL mode a commit is durable against a process crash (SIGKILL, OOM
  kill, segfault), which is the failure we guard against; only a power loss or kernel panic may
  lose the last few commits, never corrupt the file. `FULL` would add an fsync per commit on the
  order write-ahead path, where latency matters, for little gain: after a power loss startup
  reconciliation recovers the orders from the exchange anyway.
- `foreign_keys=ON`: SQLite leaves them off by default, per connection.
- `busy_timeout`: another process (a `ctl` tool, a backup) holding the write lock makes us wait
  in the sqlite thread instead of failing at once with "database is locked".
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from kraken_tui.private_files import create_private_sqlite_file
from kraken_tui.store.errors import StoreError

Params = Sequence[Any]

BUSY_TIMEOUT_MS = 5_000


class Database:
    """The connection plus the lock that makes transactions whole."""

    def __init__(self, path: Path, connection: aiosqlite.Connection) -> None:
        self.path = path
        self._connection = connection
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Database:
        # The trading history is private: the file (and so its -wal/-shm) is 0600 before
        # SQLite ever writes to it.
        create_private_sqlite_file(path)
        # isolation_level=None: the sqlite3 module must not open transactions behind our back;
        # every transaction here is an explicit BEGIN IMMEDIATE ... COMMIT.
        connection = await aiosqlite.connect(path, isolation_level=None)
        connection.row_factory = sqlite3.Row
        try:
            cursor = await connection.execute("PRAGMA journal_mode=WAL")
            row = await cursor.fetchone()
            if row is None or str(row[0]).lower() != "wal":
                raise StoreError(f"database {path}: could not switch to WAL mode (got {row})")
            await connection.execute("PRAGMA synchronous=NORMAL")
            await connection.execute("PRAGMA foreign_keys=ON")
            await connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except BaseException:
            await connection.close()
            raise
        return cls(path, connection)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front, so a transaction that reads before it
        writes cannot fail half-way with SQLITE_BUSY when another process writes meanwhile."""
        async with self._lock:
            try:
                await self._connection.execute("BEGIN IMMEDIATE")
            except asyncio.CancelledError:
                await self._end_abandoned_transaction()
                raise
            try:
                yield self._connection
            except BaseException:
                await self._end_abandoned_transaction()
                raise
            try:
                await self._connection.execute("COMMIT")
            except asyncio.CancelledError:
                await self._end_abandoned_transaction()
                raise

    async def _end_abandoned_transaction(self) -> None:
        """Roll back whatever this holder left open before it lets the lock go. aiosqlite runs
        statements on its own thread in order, so a BEGIN whose caller was cancelled (a task
        stopped at shutdown) still runs: without this the next holder's BEGIN fails with
        "cannot start a transaction within a transaction". After a COMMIT that did run there
        is nothing to roll back, which is fine."""
        with contextlib.suppress(sqlite3.OperationalError):  # no transaction was open
            await asyncio.shield(self._connection.execute("ROLLBACK"))

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write in its own transaction; returns the number of rows it changed."""
        async with self.transaction() as connection:
            cursor = await connection.execute(sql, params)
            return cursor.rowcount

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT in its own transaction; returns the new row's id."""
        async with self.transaction() as connection:
            cursor = await connection.execute(sql, params)
            row_id = cursor.lastrowid
        if row_id is None:
            raise RuntimeError(f"INSERT returned no row id: {sql}")
        return row_id

    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._lock:
            cursor = await self._connection.execute(sql, params)
            return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._lock:
            cursor = await self._connection.execute(sql, params)
            return await cursor.fetchone()

    async def execute_batch(self, units: Iterable[tuple[str, list[Params]]]) -> None:
        """Apply (sql, rows) units in one transaction: all of them, or none after a crash."""
        async with self.transaction() as connection:
            for sql, rows in units:
                if len(rows) == 1:
                    await connection.execute(sql, rows[0])
                else:
                    await connection.executemany(sql, rows)

    async def close(self) -> None:
        async with self._lock:
            await self._connection.close()
