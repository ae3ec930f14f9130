"""Migration runner: order, idempotence, refusals, and all-or-nothing application."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from kraken_tui.domain import OrderStatus, OrderType
from kraken_tui.store import (
    MigrationChecksumError,
    MigrationError,
    SchemaTooNewError,
    Store,
)
from kraken_tui.store.migrations import default_migrations_dir, load_migrations, split_statements

REPO_DB_DIR = Path(__file__).resolve().parents[2] / "db"


def _schema(db_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()


def _versions(db_path: Path) -> list[tuple[int, str, str, str]]:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(
            "SELECT version, name, applied_at, checksum FROM schema_version ORDER BY version"
        ).fetchall()


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "migrations"
    shutil.copytree(REPO_DB_DIR, directory)
    return directory


async def test_fresh_database_gets_every_table_and_a_checksummed_version_row(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "nested" / "dir" / "kraken.sqlite3"
    store = await Store.open(db_path)
    await store.close()

    tables = {name for name, _ in _schema(db_path)}
    for table in (
        "strategies", "trades", "orders", "executions", "portfolios", "positions",
        "equity_snapshots", "event_log", "reconciliation_log", "backtest_runs", "kv",
        "schema_version",
    ):  # fmt: skip
        assert table in tables
    rows = _versions(db_path)
    assert [(version, name) for version, name, _, _ in rows] == [
        (1, "initial"),
        (2, "orders_quote_volume"),
    ]
    for (_, _, applied_at, checksum), file_name in zip(
        rows, ("001_initial.sql", "002_orders_quote_volume.sql"), strict=True
    ):
        assert applied_at.endswith("+00:00")
        assert checksum == hashlib.sha256((REPO_DB_DIR / file_name).read_bytes()).hexdigest()


async def test_opening_twice_changes_nothing(tmp_path: Path) -> None:
    db_path = tmp_path / "kraken.sqlite3"
    await (await Store.open(db_path)).close()
    schema, versions = _schema(db_path), _versions(db_path)

    await (await Store.open(db_path)).close()

    assert _schema(db_path) == schema
    assert _versions(db_path) == versions


async def test_migrations_apply_in_numeric_order(tmp_path: Path, migrations_dir: Path) -> None:
    (migrations_dir / "110_second.sql").write_text("ALTER TABLE probe ADD COLUMN b TEXT;\n")
    (migrations_dir / "098_first.sql").write_text("CREATE TABLE probe (a TEXT) STRICT;\n")
    db_path = tmp_path / "kraken.sqlite3"

    await (await Store.open(db_path, migrations_dir=migrations_dir)).close()

    assert [row[:2] for row in _versions(db_path)] == [
        (1, "initial"),
        (2, "orders_quote_volume"),
        (98, "first"),
        (110, "second"),
    ]
    with sqlite3.connect(db_path) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(probe)")]
    assert columns == ["a", "b"]


async def test_database_newer_than_code_is_refused_with_both_versions_and_the_path(
    tmp_path: Path, migrations_dir: Path
) -> None:
    (migrations_dir / "098_future.sql").write_text("CREATE TABLE future (x TEXT);\n")
    db_path = tmp_path / "kraken.sqlite3"
    await (await Store.open(db_path, migrations_dir=migrations_dir)).close()
    versions = _versions(db_path)

    with pytest.raises(SchemaTooNewError) as raised:
        await Store.open(db_path, migrations_dir=REPO_DB_DIR)

    error = raised.value
    assert (error.db_path, error.db_version, error.code_version) == (db_path, 98, 2)
    message = str(error)
    assert str(db_path) in message
    assert "schema version 98" in message
    assert "up to version 2" in message
    assert _versions(db_path) == versions


async def test_edited_applied_migration_is_refused(tmp_path: Path, migrations_dir: Path) -> None:
    db_path = tmp_path / "kraken.sqlite3"
    await (await Store.open(db_path, migrations_dir=migrations_dir)).close()
    initial = migrations_dir / "001_initial.sql"
    initial.write_text(initial.read_text() + "\nCREATE TABLE sneaky (x TEXT);\n")

    with pytest.raises(MigrationChecksumError, match=r"001_initial\.sql was edited") as raised:
        await Store.open(db_path, migrations_dir=migrations_dir)

    assert str(db_path) in str(raised.value)
    assert "sneaky" not in {name for name, _ in _schema(db_path)}


async def test_failing_migration_leaves_nothing_of_itself_behind(
    tmp_path: Path, migrations_dir: Path
) -> None:
    (migrations_dir / "098_broken.sql").write_text(
        "CREATE TABLE half_done (x TEXT);\nINSERT INTO no_such_table VALUES (1);\n"
    )
    db_path = tmp_path / "kraken.sqlite3"

    with pytest.raises(MigrationError, match=r"098_broken\.sql failed and was rolled back"):
        await Store.open(db_path, migrations_dir=migrations_dir)

    assert "half_done" not in {name for name, _ in _schema(db_path)}
    assert [row[0] for row in _versions(db_path)] == [1, 2]


def test_statement_splitter_keeps_semicolons_inside_triggers_strings_and_comments() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT DEFAULT 'a;b');
    CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN
        UPDATE t SET x = 'c;d' WHERE rowid = new.rowid;
        SELECT 1;
    END;
    /* trailing; comment */
    """

    statements = split_statements(script)

    assert len(statements) == 2
    assert statements[0].endswith("DEFAULT 'a;b');")
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


def test_badly_named_migration_file_is_refused(migrations_dir: Path) -> None:
    (migrations_dir / "2_missing_padding.sql").write_text("SELECT 1;\n")

    with pytest.raises(MigrationError, match=r"NNN_lowercase_name\.sql"):
        load_migrations(migrations_dir)


def test_checkout_finds_the_repository_db_directory() -> None:
    assert default_migrations_dir() == REPO_DB_DIR


def test_packaged_migrations_win_over_a_checkout_directory(tmp_path: Path) -> None:
    package_dir = tmp_path / "kraken_tui"
    (package_dir / "_db").mkdir(parents=True)
    (tmp_path / "db").mkdir()

    assert default_migrations_dir(package_dir) == package_dir / "_db"


def test_missing_migrations_directory_names_where_it_looked(tmp_path: Path) -> None:
    package_dir = tmp_path / "kraken_tui"
    package_dir.mkdir()

    with pytest.raises(MigrationError, match="no migrations directory") as raised:
        default_migrations_dir(package_dir)

    assert str(package_dir / "_db") in str(raised.value)
    assert str(tmp_path / "db") in str(raised.value)


async def test_quote_volume_migration_upgrades_a_database_at_the_initial_schema(
    tmp_path: Path,
) -> None:
    initial_only = tmp_path / "initial_only"
    initial_only.mkdir()
    shutil.copy(REPO_DB_DIR / "001_initial.sql", initial_only)
    db_path = tmp_path / "kraken.sqlite3"
    await (await Store.open(db_path, migrations_dir=initial_only)).close()
    with sqlite3.connect(db_path) as connection:
        connection.execute(
            "INSERT INTO orders (cl_ord_id, order_id, symbol, side, type, price, volume, "
            "time_in_force, status, filled, created_at, updated_at) VALUES ('old-1', 'OOLD', "
            "'BTC/USD', 'buy', 'limit', '50000', '0.01', 'gtc', 'new', '0', "
            "'2026-11-25T12:00:00.000000+00:00', '2026-11-25T12:00:00.000000+00:00')"
        )

    store = await Store.open(db_path, migrations_dir=REPO_DB_DIR)
    try:
        old = await store.orders.by_cl_ord_id("old-1")
        assert old is not None and old.volume == Decimal("0.01") and old.quote_volume is None
        quote_buy = old.with_changes(
            cl_ord_id="new-1",
            order_id=None,
            order_type=OrderType.MARKET,
            volume=Decimal(0),
            price=None,
            status=OrderStatus.PENDING_NEW,
            quote_volume=Decimal("250.50"),
        )
        await store.orders.insert_pending(quote_buy)
        assert await store.orders.by_cl_ord_id("new-1") == quote_buy
    finally:
        await store.close()
    assert [row[:2] for row in _versions(db_path)] == [(1, "initial"), (2, "orders_quote_volume")]
