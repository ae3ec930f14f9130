"""Creating files only their owner can read: the database, logs, nonce and sandbox state.

They hold trading history, balances and log lines about the account, so another local user
must not read them. A process umask cannot guarantee that (library users and tests construct
the stores directly, under whatever umask they run with), so every such file is created here
with mode 0600 from its first byte, and every directory we create on the way gets 0700.
Directories that already exist are the user's choice and stay as they are; files we open are
tightened to 0600 even when an older version left them readable.

Every layer may import this module: it depends on the standard library only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
SQLITE_SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside a database; it creates them with the database's own mode."""


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents with mode 0700; existing ones are untouched."""
    missing: list[Path] = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # another process created it first; it chose the mode
        # mkdir's mode is filtered by the umask, which could only have removed bits we want.
        os.chmod(directory, PRIVATE_DIR_MODE)


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """An ``opener`` for ``open()``: creates the file as 0600 and tightens an existing one.

    ``O_NOFOLLOW`` refuses a symlink planted where the file should be.
    """
    descriptor = os.open(path, flags | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(descriptor).st_mode) != PRIVATE_FILE_MODE:
            os.fchmod(descriptor, PRIVATE_FILE_MODE)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def create_private_file(path: Path) -> None:
    """Make ``path`` exist as a 0600 file in a private directory, keeping any content.

    For files a library opens itself (SQLite): it keeps the mode of an existing file.
    """
    make_private_dir(path.parent)
    os.close(open_private(path, os.O_WRONLY | os.O_CREAT))


def create_private_sqlite_file(path: Path) -> None:
    """Prepare a SQLite database path so the database and its sidecar files are 0600.

    SQLite creates ``-wal``/``-shm`` with the database file's mode, so a 0600 database is
    enough for new ones; sidecars a crash left behind by an older version are tightened.
    """
    create_private_file(path)
    for suffix in SQLITE_SIDECAR_SUFFIXES:
        sidecar = path.with_name(path.name + suffix)
        try:
            if stat.S_IMODE(sidecar.stat().st_mode) != PRIVATE_FILE_MODE:
                sidecar.chmod(PRIVATE_FILE_MODE)
        except FileNotFoundError:
            continue
