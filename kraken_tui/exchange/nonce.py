"""Nonces for Kraken's private REST API that keep increasing across process restarts.

Kraken refuses any nonce not greater than the last one it saw for the API key. The SDK's own
nonce is the wall clock in units of 10 ns, which repeats or goes backwards when the clock is
stepped or two calls land in the same float-rounded instant. We take the larger of that
clock value and the last nonce persisted to disk plus one, and persist each nonce atomically
under an exclusive file lock, so neither a restart, a clock step nor a second process on the
same state file can ever reuse one. The files are private (0600): the nonce sequence is a
per-key value another local user has no business reading or racing.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from loguru import logger

from kraken_tui.private_files import make_private_dir, open_private

NONCE_UNITS_PER_SECOND = 100_000_000  # python-kraken-sdk's scale: str(int(time.time() * 1e8))
INVALID_NONCE_ERROR = "EAPI:Invalid nonce"


class NonceStore:
    """Hands out strictly increasing nonces, remembered in `path` (a one-line text file)."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._clock = clock
        self._thread_lock = threading.Lock()
        make_private_dir(path.parent)

    def next(self) -> int:
        with self._thread_lock, open(self._lock_path, "a", opener=open_private) as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                nonce = max(int(self._clock() * NONCE_UNITS_PER_SECOND), self._read_last() + 1)
                self._write(nonce)
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        return nonce

    def last(self) -> int:
        """The last nonce handed out by any process using this file (0 if none yet)."""
        return self._read_last()

    def _read_last(self) -> int:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return 0
        try:
            return int(text)
        except ValueError:
            logger.warning("nonce file {} is unreadable; falling back to the clock", self.path)
            return 0

    def _write(self, nonce: int) -> None:
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        # Created 0600, so the file it replaces stays private too.
        with open(temporary, "w", opener=open_private) as handle:
            handle.write(f"{nonce}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


def is_invalid_nonce_error(message: str) -> bool:
    return message.startswith(INVALID_NONCE_ERROR)


def invalid_nonce_explanation(store_path: Path | None = None) -> str:
    """What a user needs to know when Kraken answers `EAPI:Invalid nonce`."""
    persisted = (
        f" kraken-tui keeps its last nonce in {store_path}, so restarting it is safe."
        if store_path is not None
        else ""
    )
    return (
        "Kraken rejected the request nonce (EAPI:Invalid nonce). Every API key needs nonces "
        "that always increase, so only one process may use a key at a time: another bot, "
        "script or a second kraken-tui running with the same key races ours. Create a "
        "separate API key for each program, or raise the key's nonce window in Kraken's API "
        f"key settings if two programs must share it.{persisted}"
    )
