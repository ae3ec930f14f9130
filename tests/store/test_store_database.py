"""Connection settings the crash-safety argument depends on."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import pytest

from kraken_tui.store import Store


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [
        ("journal_mode", "wal"),
        ("foreign_keys", 1),
        ("synchronous", 1),  # NORMAL
        ("busy_timeout", 5000),
    ],
)
async def test_connection_runs_with_crash_safe_pragmas(
    store: Store, pragma: str, expected: object
) -> None:
    row = await store.database.fetch_one(f"PRAGMA {pragma}")

    assert row is not None and row[0] == expected


async def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await store.database.execute(
            "INSERT INTO positions (portfolio_id, symbol, qty, avg_price, realized_pnl, fees, "
            "updated_at) VALUES (999, 'BTC/USD', '0', '0', '0', '0', 'x')"
        )


async def test_failed_transaction_is_rolled_back_whole(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        async with store.database.transaction() as connection:
            await connection.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES ('a', '1', 'now')"
            )
            await connection.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES ('a', '2', 'now')"
            )

    assert await store.kv.get("a") is None


@pytest.mark.parametrize("statement", ["BEGIN IMMEDIATE", "COMMIT"])
async def test_a_write_cancelled_mid_transaction_leaves_none_open_for_the_next(
    store: Store, statement: str
) -> None:
    """A task stopped at shutdown while its BEGIN or COMMIT is queued on aiosqlite's thread:
    that statement still runs, and the next writer must not find a transaction open."""
    insert = "INSERT INTO kv (key, value, updated_at) VALUES (?, '1', 'now')"
    write = asyncio.ensure_future(store.database.execute(insert, ("cancelled",)))
    for _ in range(1 if statement == "BEGIN IMMEDIATE" else 3):
        await asyncio.sleep(0)  # BEGIN queued; after more turns, the INSERT and then COMMIT
    write.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await write
    assert await store.database.execute(insert, ("next",)) == 1
    assert await store.kv.get("next") is not None
