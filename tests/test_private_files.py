"""Files holding account data are created 0600 in directories created 0700, whatever the
umask: the trading database, the nonce file, the sandbox state and the sandbox's log.

Every test runs under umask 022, the common default under which they used to be
world-readable. Log files are covered in ``test_logging.py``.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from kraken_tui.exchange.nonce import NonceStore
from kraken_tui.private_files import create_private_file, make_private_dir
from kraken_tui.sandbox.process import SandboxProcess
from kraken_tui.sandbox.state import VenueStore
from kraken_tui.store import Store


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def modes(directory: Path) -> dict[str, int]:
    """Mode of every entry below ``directory``, by path relative to it."""
    return {str(path.relative_to(directory)): mode(path) for path in directory.rglob("*")}


def test_new_directories_are_0700_and_existing_ones_keep_their_mode(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir(mode=0o755)
    make_private_dir(tmp_path / "shared" / "state" / "nested")
    assert modes(tmp_path) == {"shared": 0o755, "shared/state": 0o700, "shared/state/nested": 0o700}


def test_a_private_file_is_0600_and_an_existing_one_is_tightened_keeping_its_content(
    tmp_path: Path,
) -> None:
    fresh, old = tmp_path / "fresh", tmp_path / "old"
    old.write_text("kept")
    old.chmod(0o644)
    create_private_file(fresh)
    create_private_file(old)
    assert (mode(fresh), mode(old), old.read_text()) == (0o600, 0o600, "kept")


def test_a_symlink_planted_in_place_of_a_private_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    target.chmod(0o644)
    (tmp_path / "kraken.sqlite3").symlink_to(target)
    with pytest.raises(OSError):
        create_private_file(tmp_path / "kraken.sqlite3")
    assert mode(target) == 0o644


async def test_the_database_and_its_wal_and_shm_files_are_private(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "data" / "kraken.sqlite3")
    try:
        assert modes(tmp_path) == {
            "data": 0o700,
            "data/kraken.sqlite3": 0o600,
            "data/kraken.sqlite3-wal": 0o600,
            "data/kraken.sqlite3-shm": 0o600,
        }
    finally:
        await store.close()


async def test_a_database_in_an_existing_directory_is_private_and_the_directory_untouched(
    tmp_path: Path,
) -> None:
    (tmp_path / "data").mkdir(mode=0o755)
    store = await Store.open(tmp_path / "data" / "kraken.sqlite3")
    await store.close()
    assert modes(tmp_path) == {"data": 0o755, "data/kraken.sqlite3": 0o600}


def crash_leaving_a_readable_wal(path: Path) -> None:
    """An older version crashed mid-run: database, -wal and -shm stay behind as 0644."""
    crash = textwrap.dedent(
        f"""
        import os, sqlite3
        db = sqlite3.connect({str(path)!r}, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", crash], check=True, timeout=60)


async def test_a_readable_database_left_by_a_crash_is_tightened_with_its_wal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kraken.sqlite3"
    crash_leaving_a_readable_wal(path)
    assert set(modes(tmp_path).values()) == {0o644} and len(modes(tmp_path)) == 3
    store = await Store.open(path)
    try:
        assert set(modes(tmp_path).values()) == {0o600}
        assert await store.database.fetch_one("SELECT x FROM t") is not None
    finally:
        await store.close()


def test_the_nonce_file_and_its_lock_are_private(tmp_path: Path) -> None:
    store = NonceStore(tmp_path / "data" / "nonce-0123456789abcdef")
    store.next()
    store.next()
    assert modes(tmp_path) == {
        "data": 0o700,
        "data/nonce-0123456789abcdef": 0o600,
        "data/nonce-0123456789abcdef.lock": 0o600,
    }


def test_the_sandbox_state_database_is_private(tmp_path: Path) -> None:
    store = VenueStore(tmp_path / "data" / "sandbox.sqlite3")
    try:
        assert modes(tmp_path) == {
            "data": 0o700,
            "data/sandbox.sqlite3": 0o600,
            "data/sandbox.sqlite3-wal": 0o600,
            "data/sandbox.sqlite3-shm": 0o600,
        }
    finally:
        store.close()


def test_the_sandbox_child_log_is_private(tmp_path: Path) -> None:
    with SandboxProcess(rate=0, log_path=tmp_path / "logs" / "sandbox.log"):
        pass
    assert modes(tmp_path) == {"logs": 0o700, "logs/sandbox.log": 0o600}
    assert "sandbox listening" in (tmp_path / "logs" / "sandbox.log").read_text()
