"""The status bar's text: whatever its width, a live run on a host other than Kraken's says
so next to the LIVE label."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kraken_tui.domain import ComponentState, Mode
from kraken_tui.engine.api import EngineSnapshot
from kraken_tui.ui.widgets.status_bar import status_text

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SNAPSHOT = EngineSnapshot(mode=Mode.LIVE, state=ComponentState.RUNNING, ts=NOW)


@pytest.mark.parametrize("snapshot", [None, SNAPSHOT], ids=["starting", "running"])
@pytest.mark.parametrize("compact", [False, True])
def test_live_bar_on_an_overridden_host_names_the_host(
    snapshot: EngineSnapshot | None, compact: bool
) -> None:
    text = status_text(snapshot, Mode.LIVE, NOW, compact=compact, live_host_override="10.0.0.5")
    assert "LIVE" in text.plain
    assert "override host 10.0.0.5" in text.plain


def test_live_bar_on_krakens_hosts_has_no_override_note() -> None:
    assert "override" not in status_text(SNAPSHOT, Mode.LIVE, NOW).plain
