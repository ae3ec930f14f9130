"""Which endpoints and keys a run gets: the user's Kraken keys only ever go to Kraken, in
live mode; every other mode signs with sandbox keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kraken_tui.exchange_setup import exchange_target
from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET
from kraken_tui.settings import load_settings

USER_KEY = "AKEY-user-5d0c7e21"
USER_SECRET = "dXNlci1zZWNyZXQtbmV2ZXItdG8tYS1zYW5kYm94"
SANDBOX_URLS = {
    "KRAKEN_TUI_EXCHANGE__REST_URL": "http://127.0.0.1:9000",
    "KRAKEN_TUI_EXCHANGE__WS_URL": "ws://127.0.0.1:9000",
    "KRAKEN_TUI_EXCHANGE__WS_AUTH_URL": "ws://127.0.0.1:9000/auth",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An empty working directory, no KRAKEN_* variables but the user's Kraken keys and the
    URLs of a sandbox running elsewhere."""
    for name in list(os.environ):
        if name.startswith("KRAKEN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    for name, value in SANDBOX_URLS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KRAKEN_API_KEY", USER_KEY)
    monkeypatch.setenv("KRAKEN_API_SECRET", USER_SECRET)
    return monkeypatch


async def test_an_external_sandbox_gets_the_dev_keys_never_the_users_kraken_keys(
    env: pytest.MonkeyPatch,
) -> None:
    async with exchange_target(load_settings()) as target:
        assert (target.api_key, target.api_secret) == (DEV_API_KEY, DEV_API_SECRET)
        assert target.endpoints.rest_url == "http://127.0.0.1:9000"
        assert target.live_host_override is None


async def test_an_external_sandbox_gets_the_sandbox_keys_when_they_are_configured(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("KRAKEN_TUI_SANDBOX__API_KEY", "sandbox-key-91aa")
    env.setenv("KRAKEN_TUI_SANDBOX__API_SECRET", "c2FuZGJveC1zZWNyZXQtOTFhYQ==")
    async with exchange_target(load_settings()) as target:
        assert (target.api_key, target.api_secret) == (
            "sandbox-key-91aa",
            "c2FuZGJveC1zZWNyZXQtOTFhYQ==",
        )


async def test_live_mode_signs_with_the_users_keys_on_krakens_hosts(
    env: pytest.MonkeyPatch,
) -> None:
    for name in SANDBOX_URLS:
        env.delenv(name)
    env.setenv("KRAKEN_TUI_MODE", "live")
    env.setenv("KRAKEN_TUI_LIVE_TRADING_CONFIRMED", "true")
    async with exchange_target(load_settings()) as target:
        assert (target.api_key, target.api_secret) == (USER_KEY, USER_SECRET)
        assert target.endpoints.rest_url == "https://api.kraken.com"
        assert target.live_host_override is None


async def test_live_mode_on_an_overridden_host_names_that_host(env: pytest.MonkeyPatch) -> None:
    env.setenv("KRAKEN_TUI_MODE", "live")
    env.setenv("KRAKEN_TUI_LIVE_TRADING_CONFIRMED", "true")
    env.setenv("KRAKEN_TUI_EXCHANGE__UNSAFE_ALLOW_NON_KRAKEN_LIVE_HOST", "true")
    async with exchange_target(load_settings()) as target:
        assert (target.api_key, target.api_secret) == (USER_KEY, USER_SECRET)
        assert target.live_host_override == "127.0.0.1:9000"
