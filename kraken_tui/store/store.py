"""The store facade: one object the engine opens at start and closes at shutdown."""

from __future__ import annotations

from pathlib import Path

from kraken_tui.store.database import Database
from kraken_tui.store.migrations import default_migrations_dir, load_migrations, migrate
from kraken_tui.store.repositories import (
    BacktestRunRepository,
    EquityRepository,
    EventLogRepository,
    ExecutionRepository,
    KeyValueRepository,
    OrderRepository,
    PositionRepository,
    ReconciliationLogRepository,
    StrategyRepository,
)
from kraken_tui.store.writer import (
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_MAX_BATCH_ROWS,
    DEFAULT_MAX_PENDING_ROWS,
    BatchingWriter,
)


class Store:
    def __init__(self, database: Database, writer: BatchingWriter) -> None:
        self.database = database
        self.writer = writer
        self.orders = OrderRepository(database, writer)
        self.executions = ExecutionRepository(database)
        self.strategies = StrategyRepository(database)
        self.positions = PositionRepository(database, writer)
        self.equity = EquityRepository(database, writer)
        self.events = EventLogRepository(database, writer)
        self.reconciliation = ReconciliationLogRepository(database)
        self.kv = KeyValueRepository(database, writer)
        self.backtests = BacktestRunRepository(database)

    @property
    def path(self) -> Path:
        return self.database.path

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        migrations_dir: Path | None = None,
        max_pending_rows: int = DEFAULT_MAX_PENDING_ROWS,
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
    ) -> Store:
        """Open (creating the file and its directory), migrate, and start the writer. Raises a
        `StoreError` (e.g. `SchemaTooNewError`) without touching a database it must not use."""
        migrations = load_migrations(migrations_dir or default_migrations_dir())
        database = await Database.open(Path(path))
        try:
            await migrate(database, migrations)
        except BaseException:
            await database.close()
            raise
        writer = BatchingWriter(
            database,
            max_pending_rows=max_pending_rows,
            max_batch_rows=max_batch_rows,
            flush_interval=flush_interval,
        )
        writer.start()
        return cls(database, writer)

    async def close(self) -> None:
        """Drain the writer, then close the connection: nothing queued is lost on shutdown."""
        try:
            await self.writer.close()
        finally:
            await self.database.close()
