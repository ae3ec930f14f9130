"""Schema migrations: `db/NNN_name.sql` files applied in numeric order, one transaction each.

Each applied file is recorded in `schema_version` with a sha256 of its bytes. On every start we
refuse a database that is newer than the code (its highest version has no file here) and a
database whose applied files have since been edited; both would leave code and schema silently
disagreeing. Statements are executed one by one inside an explicit BEGIN IMMEDIATE ... COMMIT:
`sqlite3.executescript` would COMMIT first and run the script outside our transaction, so a
failing statement could leave a migration half-applied.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from loguru import logger

import kraken_tui
from kraken_tui.store.codec import datetime_to_text
from kraken_tui.store.database import Database
from kraken_tui.store.errors import MigrationChecksumError, MigrationError, SchemaTooNewError

MIGRATION_FILE_NAME = re.compile(r"^(?P<version>\d{3})_(?P<name>[a-z0-9_]+)\.sql$")

_SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    checksum   TEXT NOT NULL
) STRICT
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str
    checksum: str

    @property
    def file_name(self) -> str:
        return self.path.name

    def statements(self) -> list[str]:
        return split_statements(self.sql)


def default_migrations_dir(package_dir: Path | None = None) -> Path:
    """A wheel carries the migrations as `kraken_tui/_db` (hatch force-include); a checkout has
    them in `<repo>/db`. The packaged copy wins so an installed app never reads a stray tree."""
    package_dir = package_dir or Path(kraken_tui.__file__).resolve().parent
    candidates = (package_dir / "_db", package_dir.parent / "db")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise MigrationError(
        "no migrations directory: looked for " + " and ".join(str(path) for path in candidates)
    )


def load_migrations(directory: Path) -> list[Migration]:
    migrations: list[Migration] = []
    seen: dict[int, Path] = {}
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files must be named NNN_lowercase_name.sql")
        version = int(match["version"])
        if version in seen:
            raise MigrationError(f"{path} and {seen[version]} share version {version}")
        seen[version] = path
        raw = path.read_bytes()
        migrations.append(
            Migration(
                version=version,
                name=match["name"],
                path=path,
                sql=raw.decode("utf-8"),
                checksum=hashlib.sha256(raw).hexdigest(),
            )
        )
    migrations.sort(key=lambda migration: migration.version)
    return migrations


def split_statements(sql: str) -> list[str]:
    """Split a script at the semicolons that end statements. `sqlite3.complete_statement` knows
    about string literals, comments and trigger bodies, so a `;` inside them does not split."""
    statements: list[str] = []
    pending = ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statement = pending.strip()
            if _has_code(statement):
                statements.append(statement)
            pending = ""
    if _has_code(pending.rstrip(";")):
        raise MigrationError(f"unterminated SQL statement at the end of the script: {pending!r}")
    return statements


def _has_code(sql: str) -> bool:
    without_comments = re.sub(r"--[^\n]*|/\*.*?\*/", "", sql, flags=re.DOTALL)
    return without_comments.strip(" \t\r\n;") != ""


async def migrate(database: Database, migrations: list[Migration]) -> list[Migration]:
    """Bring the database up to the newest migration; returns the ones applied now."""
    await database.execute(_SCHEMA_VERSION_TABLE)
    applied = await _applied_versions(database)
    code_version = migrations[-1].version if migrations else 0
    _check_applied(database.path, applied, migrations, code_version)
    newly_applied: list[Migration] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        if await _apply(database, migration):
            newly_applied.append(migration)
            logger.info("applied migration {} to {}", migration.file_name, database.path)
    return newly_applied


async def _applied_versions(database: Database) -> dict[int, tuple[str, str]]:
    rows = await database.fetch_all("SELECT version, name, checksum FROM schema_version")
    return {row["version"]: (row["name"], row["checksum"]) for row in rows}


def _check_applied(
    db_path: Path,
    applied: dict[int, tuple[str, str]],
    migrations: list[Migration],
    code_version: int,
) -> None:
    if applied and max(applied) > code_version:
        raise SchemaTooNewError(db_path, max(applied), code_version)
    by_version = {migration.version: migration for migration in migrations}
    for version, (name, checksum) in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"database {db_path} records migration {version:03d}_{name}.sql, "
                f"which is missing from the migrations directory"
            )
        if migration.checksum != checksum:
            raise MigrationChecksumError(db_path, version, name, checksum, migration.checksum)


async def _apply(database: Database, migration: Migration) -> bool:
    """Returns False when another process applied this version between our check and our
    BEGIN IMMEDIATE (the version check is repeated under the write lock)."""
    statements = migration.statements()
    async with database.transaction() as connection:
        cursor = await connection.execute(
            "SELECT 1 FROM schema_version WHERE version = ?", (migration.version,)
        )
        if await cursor.fetchone() is not None:
            return False
        for statement in statements:
            try:
                await connection.execute(statement)
            except sqlite3.Error as exc:
                raise MigrationError(
                    f"database {database.path}: migration {migration.file_name} failed "
                    f"and was rolled back: {exc}\nstatement: {statement}"
                ) from exc
        await connection.execute(
            "INSERT INTO schema_version (version, name, applied_at, checksum) VALUES (?, ?, ?, ?)",
            (
                migration.version,
                migration.name,
                datetime_to_text(datetime.now(UTC)),
                migration.checksum,
            ),
        )
    return True
