"""`redis.command_secret` must be long enough to resist offline guessing, and saying so must
never repeat the secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from kraken_tui.settings import ConfigError, RedisSettings, load_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("KRAKEN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_short_command_secret_from_the_environment_is_a_config_error_without_the_value(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = "hunter2-but-only-31-bytes-long!"
    assert len(short.encode()) == 31
    monkeypatch.setenv("KRAKEN_TUI_REDIS__COMMAND_SECRET", short)
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert "redis.command_secret from environment variable KRAKEN_TUI_REDIS__COMMAND_SECRET" in (
        message
    )
    assert "at least 32 bytes" in message
    assert short not in message and "hunter2" not in message


def test_a_short_command_secret_in_the_config_file_is_refused_without_the_value(
    clean_env: Path,
) -> None:
    config = clean_env / "kt.toml"
    config.write_text('[redis]\ncommand_secret = "set-me"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert f"redis.command_secret from {config}" in str(error.value)
    assert "set-me" not in str(error.value)


def test_the_command_secret_is_measured_in_bytes() -> None:
    assert RedisSettings(command_secret=SecretStr("x" * 32)).command_secret is not None
    assert RedisSettings(command_secret=SecretStr("€" * 11)).command_secret is not None
    assert RedisSettings().command_secret is None
    for short in ("x" * 31, "é" * 15):
        with pytest.raises(ValidationError):
            RedisSettings(command_secret=SecretStr(short))
