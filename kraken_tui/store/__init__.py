"""SQLite persistence (aiosqlite): connection, migrations, repositories, batching writer."""

from kraken_tui.store.database import Database
from kraken_tui.store.errors import (
    DuplicateOrderError,
    MigrationChecksumError,
    MigrationError,
    SchemaTooNewError,
    StoreError,
    UnknownOrderError,
    WriterClosedError,
    WriterOverflowError,
)
from kraken_tui.store.repositories import (
    BacktestRun,
    EquitySnapshot,
    LoggedEvent,
    ReconciliationEntry,
    StrategyRecord,
)
from kraken_tui.store.store import Store
from kraken_tui.store.writer import BatchingWriter, WriterStats

__all__ = [
    "BacktestRun",
    "BatchingWriter",
    "Database",
    "DuplicateOrderError",
    "EquitySnapshot",
    "LoggedEvent",
    "MigrationChecksumError",
    "MigrationError",
    "ReconciliationEntry",
    "SchemaTooNewError",
    "Store",
    "StoreError",
    "StrategyRecord",
    "UnknownOrderError",
    "WriterClosedError",
    "WriterOverflowError",
    "WriterStats",
]
