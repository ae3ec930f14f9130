"""Store failures the application must tell apart: each one names the database file, because an
operator fixing it needs to know which file to look at."""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """Base class of every error raised by `kraken_tui.store`."""


class MigrationError(StoreError):
    """A migration file could not be read or applied; nothing of that file was committed."""


class SchemaTooNewError(MigrationError):
    """The database was migrated by a newer kraken-tui: running older code on it could corrupt
    data it does not understand, so we refuse to start."""

    def __init__(self, db_path: Path, db_version: int, code_version: int) -> None:
        self.db_path = db_path
        self.db_version = db_version
        self.code_version = code_version
        super().__init__(
            f"database {db_path} has schema version {db_version}, but this kraken-tui only knows "
            f"migrations up to version {code_version}; upgrade kraken-tui or point --db at "
            f"another file (the database was left untouched)"
        )


class MigrationChecksumError(MigrationError):
    """An already-applied migration file changed on disk. Released migrations are never edited:
    a database built from the old text would silently differ from one built from the new."""

    def __init__(self, db_path: Path, version: int, name: str, recorded: str, actual: str) -> None:
        self.db_path = db_path
        self.version = version
        super().__init__(
            f"database {db_path}: migration {version:03d}_{name}.sql was edited after it was "
            f"applied (recorded sha256 {recorded[:12]}…, file now {actual[:12]}…); restore the "
            f"original file and put the change in a new migration"
        )


class DuplicateOrderError(StoreError):
    """An order with this `cl_ord_id` is already stored: sending it again would double-trade."""


class UnknownOrderError(StoreError):
    """An update named an order the store does not hold."""


class WriterClosedError(StoreError):
    """A write was submitted after the batching writer was closed."""


class WriterOverflowError(StoreError):
    """The batching writer's queue is full and the write may not be dropped; the caller must
    back off (`await writer.submit_wait(...)`) rather than lose it."""
