"""A real SQLite file per test, migrated with the repository's own migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kraken_tui.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "kraken.sqlite3")
    yield opened
    await opened.close()
