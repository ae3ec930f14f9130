"""The status bar's text: whatever its width, a live run on a host other than Kraken's says
so next to the LIVE label."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from kraken_tui.alerts.alert import AlertsSnapshot
from kraken_tui.cache.codec import decode_part, encode, snapshot_from_parts, snapshot_parts
from kraken_tui.domain import ComponentState, Mode
from kraken_tui.engine.api import EngineSnapshot
from kraken_tui.engine.engine import EngineConfig
from kraken_tui.settings import load_settings
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


def test_the_engine_names_the_override_host_in_its_snapshot_also_for_attach(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An attached console knows only the snapshot: the host travels in it, through Redis."""
    monkeypatch.setenv("KRAKEN_API_KEY", "test-key")
    monkeypatch.setenv("KRAKEN_API_SECRET", "dGVzdC1zZWNyZXQ=")
    urls = {
        f: f"{'http' if f == 'rest_url' else 'ws'}://10.0.0.5:8089"
        for f in ("rest_url", "ws_url", "ws_auth_url")
    }
    settings = load_settings(
        overrides={
            "mode": "live",
            "live_trading_confirmed": True,
            "exchange": {**urls, "unsafe_allow_non_kraken_live_host": True},
        }
    )
    config = EngineConfig.from_settings(settings)
    assert config.live_host_override == "10.0.0.5:8089"
    published = replace(SNAPSHOT, live_host_override=config.live_host_override)
    wire = {name: encode(part) for name, part in snapshot_parts(published).items()}
    attached = snapshot_from_parts({name: decode_part(name, data) for name, data in wire.items()})
    text = status_text(attached, Mode.SANDBOX, NOW)
    assert "override host 10.0.0.5:8089" in text.plain


@pytest.mark.parametrize("compact", [False, True])
def test_alerts_that_reached_nobody_are_shown(compact: bool) -> None:
    lost = replace(SNAPSHOT, alerts=AlertsSnapshot(failed=2, dropped=1))
    text = status_text(lost, Mode.LIVE, NOW, compact=compact).plain
    assert ("3 alerts lost" if compact else "alerts: 2 failed, 1 dropped") in text
    assert "alerts" not in status_text(SNAPSHOT, Mode.LIVE, NOW, compact=compact).plain
