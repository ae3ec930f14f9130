"""Settings: precedence, validation errors through the real CLI, secrets handling."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel

from kraken_tui.settings import ConfigError, Settings, load_settings

RunCli = Callable[..., subprocess.CompletedProcess[str]]
REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO_ROOT / "config" / "kraken_tui.example.toml"
API_KEY = "AKEY-4f1d2c9e8b7a6d5c"
API_SECRET = "c2VjcmV0LXZhbHVlLW5ldmVyLXRvLWJlLWxvZ2dlZA=="


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """In-process loading from an empty directory with no KRAKEN_* variables."""
    for name in list(os.environ):
        if name.startswith("KRAKEN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_run_sandbox_with_sma_cross_and_market_maker(clean_env: Path) -> None:
    settings = load_settings()
    assert settings.mode == "sandbox"
    assert [(s.class_name, s.symbol) for s in settings.strategies] == [
        ("sma_cross", "BTC/USD"),
        ("market_maker", "ETH/USD"),
    ]
    assert settings.credentials is None
    assert settings.storage.db_path == Path("data/kraken_tui.sqlite3")


def test_file_is_overridden_by_env_which_is_overridden_by_flags(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        clean_env / "c.toml",
        '[risk]\nmax_order_notional = "100"\nmax_open_orders = 5\nmax_orders_per_minute = 7\n'
        '[logging]\nlevel = "DEBUG"\n',
    )
    monkeypatch.setenv("KRAKEN_TUI_RISK__MAX_OPEN_ORDERS", "6")
    monkeypatch.setenv("KRAKEN_TUI_RISK__MAX_ORDERS_PER_MINUTE", "8")
    monkeypatch.setenv("KRAKEN_TUI_LOGGING__LEVEL", "warning")

    settings = load_settings(config, overrides={"logging": {"level": "ERROR"}})

    assert settings.risk.max_order_notional == Decimal("100")  # file only
    assert settings.risk.max_open_orders == 6  # env beats file
    assert settings.risk.max_orders_per_minute == 8  # nested env merges with file section
    assert settings.logging.level == "ERROR"  # flag beats env


def test_default_config_file_is_read_from_the_working_directory(clean_env: Path) -> None:
    (clean_env / "config").mkdir()
    write(clean_env / "config" / "kraken_tui.toml", 'symbols = ["SOL/USD"]\n')
    assert load_settings().symbols == ["SOL/USD"]


def test_fixed_environment_names_set_urls_mode_and_redis(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRAKEN_TUI_MODE", "paper")
    monkeypatch.setenv("KRAKEN_TUI_EXCHANGE__REST_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("KRAKEN_TUI_EXCHANGE__WS_URL", "ws://127.0.0.1:9000")
    monkeypatch.setenv("KRAKEN_TUI_EXCHANGE__WS_AUTH_URL", "ws://127.0.0.1:9000/auth")
    monkeypatch.setenv("KRAKEN_TUI_REDIS__URL", "redis://127.0.0.1:6390/0")
    monkeypatch.setenv("KRAKEN_TUI_REDIS__COMMAND_SECRET", "cmd-secret-123")

    settings = load_settings()

    assert settings.mode == "paper"
    assert settings.exchange.rest_url == "http://127.0.0.1:9000"
    assert settings.exchange.ws_url == "ws://127.0.0.1:9000"
    assert settings.exchange.ws_auth_url == "ws://127.0.0.1:9000/auth"
    assert settings.exchange.uses_external_exchange
    assert settings.redis.url == "redis://127.0.0.1:6390/0"
    assert settings.redis.command_secret is not None
    assert settings.redis.command_secret.get_secret_value() == "cmd-secret-123"
    assert "cmd-secret-123" in settings.secret_values()


def test_live_mode_with_opt_in_and_keys_defaults_to_krakens_endpoints(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRAKEN_API_KEY", API_KEY)
    monkeypatch.setenv("KRAKEN_API_SECRET", API_SECRET)
    settings = load_settings(overrides={"mode": "live", "live_trading_confirmed": True})
    assert settings.exchange.rest_url == "https://api.kraken.com"
    assert settings.exchange.ws_url == "wss://ws.kraken.com"
    assert settings.exchange.ws_auth_url == "wss://ws-auth.kraken.com"
    assert API_KEY not in repr(settings)
    assert API_SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("toml", "field", "problem"),
    [
        ("[risk]\nmax_order_notionel = 5\n", "risk.max_order_notionel", "Extra inputs"),
        ('[risk]\nmax_open_orders = "many"\n', "risk.max_open_orders", "valid integer"),
        ('[risk]\nmax_order_notional = "-5"\n', "risk.max_order_notional", "greater than"),
        ('mode = "yolo"\n', "mode", "'sandbox', 'paper' or 'live'"),
        (
            '[[strategies]]\nname = "x"\nclass = "no_such_strategy"\nsymbol = "BTC/USD"\n',
            "strategies.0.class",
            "unknown strategy class 'no_such_strategy'",
        ),
        ('mode = "live"\n', "mode", "live_trading_confirmed"),
        (
            'mode = "live"\nlive_trading_confirmed = true\n',
            "mode",
            "needs API credentials",
        ),
        ("[ui]\nrefresh_hz = 60\n", "ui.refresh_hz", "less than or equal to 20"),
        ("book_depth = 7\n", "book_depth", "10, 25, 100, 500 or 1000"),
        ('[logging]\nrotation = "often"\n', "logging.rotation", "pattern"),
    ],
)
def test_invalid_config_file_exits_2_naming_file_and_field(
    run_cli: RunCli, tmp_path: Path, toml: str, field: str, problem: str
) -> None:
    config = write(tmp_path / "bad.toml", toml)
    result = run_cli("--config", str(config), "config", "check")
    assert result.returncode == 2, result.stderr
    assert str(config) in result.stderr
    assert f"{field} from" in result.stderr
    assert problem in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_invalid_toml_exits_2_naming_the_file(run_cli: RunCli, tmp_path: Path) -> None:
    config = write(tmp_path / "broken.toml", "[risk\nmax_open_orders = 3\n")
    result = run_cli("--config", str(config), "config", "check")
    assert result.returncode == 2
    assert f"Invalid TOML in configuration file {config}" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_exits_2_naming_the_file(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path / "absent.toml"), "config", "check")
    assert result.returncode == 2
    assert f"Cannot read configuration file {tmp_path / 'absent.toml'}" in result.stderr


def test_unreadable_config_file_exits_2(run_cli: RunCli, tmp_path: Path) -> None:
    directory_not_file = tmp_path / "dir.toml"
    directory_not_file.mkdir()
    result = run_cli("--config", str(directory_not_file), "config", "check")
    assert result.returncode == 2
    assert f"Cannot read configuration file {directory_not_file}" in result.stderr


def test_bad_environment_value_is_reported_with_its_variable_name(run_cli: RunCli) -> None:
    result = run_cli("config", "check", env={"KRAKEN_TUI_RISK__MAX_OPEN_ORDERS": "-1"})
    assert result.returncode == 2
    assert "risk.max_open_orders from environment variable KRAKEN_TUI_RISK__MAX_OPEN_ORDERS" in (
        result.stderr
    )


def test_bad_mode_flag_is_reported_as_coming_from_the_command_line(run_cli: RunCli) -> None:
    result = run_cli("--mode", "casino", "config", "check")
    assert result.returncode == 2
    assert "mode from the command line" in result.stderr


def test_credentials_in_the_config_file_are_refused(clean_env: Path) -> None:
    config = write(clean_env / "c.toml", f'[credentials]\napi_key = "{API_KEY}"\n')
    with pytest.raises(ConfigError, match="not allowed in the config file") as caught:
        load_settings(config)
    assert API_KEY not in str(caught.value)


def test_live_mode_errors_never_show_the_key(run_cli: RunCli) -> None:
    result = run_cli("--mode", "live", "config", "check", env={"KRAKEN_API_KEY": API_KEY})
    assert result.returncode == 2
    assert "credentials.api_secret is missing" in result.stderr
    assert API_KEY not in result.stderr + result.stdout


def test_secrets_file_readable_by_others_is_refused_with_chmod_hint(
    run_cli: RunCli, tmp_path: Path
) -> None:
    secrets = write(
        tmp_path / "secrets.toml", f'api_key = "{API_KEY}"\napi_secret = "{API_SECRET}"\n', 0o644
    )
    result = run_cli("--secrets", str(secrets), "config", "check")
    assert result.returncode == 2
    assert f"Refusing secrets file {secrets}" in result.stderr
    assert f"chmod 600 {secrets}" in result.stderr
    assert API_KEY not in result.stderr and API_SECRET not in result.stderr


@pytest.mark.parametrize(
    "text",
    [
        f'api_key = "{API_KEY}"\napi_secret = "{API_SECRET}"\n',
        f"# exported by ops\nKRAKEN_API_KEY={API_KEY}\nexport KRAKEN_API_SECRET='{API_SECRET}'\n",
    ],
    ids=["toml", "key_value"],
)
def test_private_secrets_file_provides_credentials(clean_env: Path, text: str) -> None:
    secrets = write(clean_env / "secrets", text, 0o600)
    settings = load_settings(secrets_path=secrets)
    assert settings.credentials is not None
    assert settings.credentials.api_key.get_secret_value() == API_KEY
    assert settings.credentials.api_secret.get_secret_value() == API_SECRET


def test_environment_keys_win_over_the_secrets_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = write(clean_env / "s.toml", 'api_key = "file-key"\napi_secret = "file-s"\n', 0o600)
    monkeypatch.setenv("KRAKEN_TUI_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("KRAKEN_API_KEY", API_KEY)
    settings = load_settings()
    assert settings.credentials is not None
    assert settings.credentials.api_key.get_secret_value() == API_KEY
    assert settings.credentials.api_secret.get_secret_value() == "file-s"


def test_config_check_masks_every_secret(run_cli: RunCli) -> None:
    env = {
        "KRAKEN_API_KEY": API_KEY,
        "KRAKEN_API_SECRET": API_SECRET,
        "KRAKEN_TUI_REDIS__PASSWORD": "redis-pass-xyz",
        "KRAKEN_TUI_REDIS__COMMAND_SECRET": "command-secret-xyz",
    }
    result = run_cli("config", "check", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    effective = json.loads(result.stdout)
    assert effective["credentials"] == {"api_key": "**********", "api_secret": "**********"}
    assert effective["redis"]["password"] == "**********"
    for secret in env.values():
        assert secret not in result.stdout + result.stderr


def test_config_check_toml_output_round_trips_to_the_same_settings(
    run_cli: RunCli, tmp_path: Path
) -> None:
    import tomllib

    result = run_cli("--db", "other.sqlite3", "config", "check")
    assert result.returncode == 0, result.stderr
    printed = tomllib.loads(result.stdout)
    assert printed["storage"]["db_path"] == "other.sqlite3"
    reloaded = write(tmp_path / "printed.toml", result.stdout)
    again = run_cli("--config", str(reloaded), "config", "check")
    assert again.returncode == 0, again.stderr
    assert again.stdout == result.stdout


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        annotation = info.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        nested = [arg for arg in inner if isinstance(arg, type) and issubclass(arg, BaseModel)]
        if nested and name != "credentials":
            paths += _field_paths(nested[0], f"{prefix}{key}.")
        else:
            paths.append(f"{prefix}{key}")
    return paths


def test_example_config_is_valid(clean_env: Path) -> None:
    settings = load_settings(EXAMPLE_CONFIG)
    assert settings == load_settings()  # the example documents the defaults


def test_example_config_documents_every_field() -> None:
    text = EXAMPLE_CONFIG.read_text()
    sections = re.split(r"^\[\[?([a-z_]+)\]\]?\s*$", text, flags=re.MULTILINE)
    by_section = {"": sections[0]}
    for name, body in zip(sections[1::2], sections[2::2], strict=True):
        by_section[name] = by_section.get(name, "") + body
    missing = []
    for path in _field_paths(Settings):
        if path == "credentials":  # never in a config file, by design
            continue
        section, _, key = path.rpartition(".")
        body = by_section.get(section, "")
        if not re.search(rf"^#?\s*{re.escape(key)}\s*=", body, flags=re.MULTILINE):
            missing.append(path)
    assert missing == []
    assert len(_field_paths(Settings)) > 40


def test_configuration_doc_lists_every_option_with_its_environment_name() -> None:
    text = (REPO_ROOT / "docs" / "configuration.md").read_text()
    missing = [
        path
        for path in _field_paths(Settings)
        if path != "credentials"
        and not path.startswith("strategies")
        and f"KRAKEN_TUI_{path.replace('.', '__').upper()}" not in text
    ]
    assert missing == []


def test_malformed_secrets_file_is_refused_naming_the_file(clean_env: Path) -> None:
    secrets = write(clean_env / "secrets", f"just the key {API_KEY}\n", 0o600)
    with pytest.raises(ConfigError, match=f"Invalid secrets file {secrets}") as caught:
        load_settings(secrets_path=secrets)
    assert API_KEY not in str(caught.value)


def test_a_key_pasted_into_another_field_is_masked_in_the_error(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRAKEN_API_KEY", API_KEY)
    monkeypatch.setenv("KRAKEN_API_SECRET", API_SECRET)
    monkeypatch.setenv("KRAKEN_TUI_BOOK_DEPTH", API_KEY)
    with pytest.raises(ConfigError, match="book_depth from environment variable") as caught:
        load_settings()
    assert API_KEY not in str(caught.value)
