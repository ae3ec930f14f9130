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
LIVE_FLAGS = {"mode": "live", "live_trading_confirmed": True}


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
    monkeypatch.setenv("KRAKEN_TUI_REDIS__COMMAND_SECRET", "cmd-secret-123-0123456789abcdefghij")

    settings = load_settings()

    assert settings.mode == "paper"
    assert settings.exchange.rest_url == "http://127.0.0.1:9000"
    assert settings.exchange.ws_url == "ws://127.0.0.1:9000"
    assert settings.exchange.ws_auth_url == "ws://127.0.0.1:9000/auth"
    assert settings.exchange.uses_external_exchange
    assert settings.redis.url == "redis://127.0.0.1:6390/0"
    assert settings.redis.command_secret is not None
    assert settings.redis.command_secret.get_secret_value() == "cmd-secret-123-0123456789abcdefghij"
    assert "cmd-secret-123-0123456789abcdefghij" in settings.secret_values()


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
    result = run_cli("--mode", "live", "--secrets", str(secrets), "config", "check")
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
    settings = load_settings(secrets_path=secrets, overrides=LIVE_FLAGS)
    assert settings.credentials is not None
    assert settings.credentials.api_key.get_secret_value() == API_KEY
    assert settings.credentials.api_secret.get_secret_value() == API_SECRET


def test_environment_keys_win_over_the_secrets_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = write(clean_env / "s.toml", 'api_key = "file-key"\napi_secret = "file-s"\n', 0o600)
    monkeypatch.setenv("KRAKEN_TUI_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("KRAKEN_API_KEY", API_KEY)
    settings = load_settings(overrides=LIVE_FLAGS)
    assert settings.credentials is not None
    assert settings.credentials.api_key.get_secret_value() == API_KEY
    assert settings.credentials.api_secret.get_secret_value() == "file-s"


def test_config_check_masks_every_secret(run_cli: RunCli) -> None:
    secrets = {
        "KRAKEN_API_KEY": API_KEY,
        "KRAKEN_API_SECRET": API_SECRET,
        "KRAKEN_TUI_REDIS__PASSWORD": "redis-pass-xyz",
        "KRAKEN_TUI_REDIS__COMMAND_SECRET": "command-secret-xyz-0123456789abcdef",
    }
    env = secrets | {"KRAKEN_TUI_MODE": "live", "KRAKEN_TUI_LIVE_TRADING_CONFIRMED": "true"}
    result = run_cli("config", "check", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    effective = json.loads(result.stdout)
    assert effective["credentials"] == {"api_key": "**********", "api_secret": "**********"}
    assert effective["redis"]["password"] == "**********"
    for secret in secrets.values():
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
        load_settings(secrets_path=secrets, overrides=LIVE_FLAGS)
    assert API_KEY not in str(caught.value)


@pytest.mark.parametrize(
    "keys",
    [
        {"KRAKEN_API_KEY": API_KEY, "KRAKEN_API_SECRET": API_SECRET, "KRAKEN_TUI_MODE": "live"},
        {"KRAKEN_TUI_SANDBOX__API_KEY": API_KEY, "KRAKEN_TUI_SANDBOX__API_SECRET": API_SECRET},
    ],
    ids=["kraken", "sandbox"],
)
def test_a_key_pasted_into_another_field_is_masked_in_the_error(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, keys: dict[str, str]
) -> None:
    set_env(monkeypatch, keys)
    monkeypatch.setenv("KRAKEN_TUI_BOOK_DEPTH", API_KEY)
    with pytest.raises(ConfigError, match="book_depth from environment variable") as caught:
        load_settings()
    assert API_KEY not in str(caught.value)


LOCAL_URLS = {
    "KRAKEN_TUI_EXCHANGE__REST_URL": "http://127.0.0.1:9000",
    "KRAKEN_TUI_EXCHANGE__WS_URL": "ws://127.0.0.1:9000",
    "KRAKEN_TUI_EXCHANGE__WS_AUTH_URL": "ws://127.0.0.1:9000/auth",
}
KRAKEN_URLS = {
    "KRAKEN_TUI_EXCHANGE__REST_URL": "https://api.kraken.com",
    "KRAKEN_TUI_EXCHANGE__WS_URL": "wss://ws.kraken.com",
    "KRAKEN_TUI_EXCHANGE__WS_AUTH_URL": "wss://ws-auth.kraken.com",
}
LIVE = {
    "KRAKEN_TUI_MODE": "live",
    "KRAKEN_TUI_LIVE_TRADING_CONFIRMED": "true",
    "KRAKEN_API_KEY": API_KEY,
    "KRAKEN_API_SECRET": API_SECRET,
}
OVERRIDE = "exchange.unsafe_allow_non_kraken_live_host"


def set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("mode", "given", "missing"),
    [
        ("sandbox", ("WS_URL", "WS_AUTH_URL"), ("exchange.rest_url",)),
        ("sandbox", ("REST_URL",), ("exchange.ws_url", "exchange.ws_auth_url")),
        ("live", ("REST_URL",), ("exchange.ws_url", "exchange.ws_auth_url")),
    ],
)
def test_a_partial_set_of_exchange_urls_exits_2_naming_each_missing_one(
    run_cli: RunCli, mode: str, given: tuple[str, ...], missing: tuple[str, ...]
) -> None:
    urls = KRAKEN_URLS if mode == "live" else LOCAL_URLS
    env = {name: urls[f"KRAKEN_TUI_EXCHANGE__{name}"] for name in given}
    env = {f"KRAKEN_TUI_EXCHANGE__{name}": url for name, url in env.items()}
    if mode == "live":
        env |= LIVE
    result = run_cli("config", "check", env=env)
    assert result.returncode == 2, result.stderr
    for field in missing:
        assert field in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("mode", ["sandbox", "paper"])
@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("rest_url", "https://api.kraken.com"),
        ("ws_url", "wss://ws.kraken.com"),
        ("ws_auth_url", "wss://WS-AUTH.Kraken.com./"),
        ("rest_url", "https://trader@futures.kraken.com:443/0"),
    ],
)
def test_a_kraken_host_outside_live_mode_is_refused_naming_the_field(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, mode: str, field: str, url: str
) -> None:
    set_env(monkeypatch, LOCAL_URLS | {f"KRAKEN_TUI_EXCHANGE__{field.upper()}": url})
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides={"mode": mode})
    message = str(caught.value)
    assert f"exchange.{field} from environment variable KRAKEN_TUI_EXCHANGE__{field.upper()}" in (
        message
    )
    assert "Kraken" in message


def test_a_kraken_host_outside_live_mode_exits_2_through_the_cli(run_cli: RunCli) -> None:
    result = run_cli("config", "check", env=KRAKEN_URLS)
    assert result.returncode == 2, result.stderr
    assert "exchange.rest_url from environment variable" in result.stderr


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("rest_url", "http://api.kraken.com"),
        ("ws_url", "ws://ws.kraken.com"),
        ("rest_url", "https://api.kraken.com.example.net"),
        ("ws_auth_url", "wss://127.0.0.1:9000/auth"),
    ],
)
def test_live_mode_refuses_anything_but_krakens_hosts_over_tls(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, field: str, url: str
) -> None:
    set_env(monkeypatch, LIVE | KRAKEN_URLS | {f"KRAKEN_TUI_EXCHANGE__{field.upper()}": url})
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"exchange.{field} from environment variable" in str(caught.value)
    assert OVERRIDE in str(caught.value)


def test_live_mode_trades_on_another_host_only_with_the_deliberate_override(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, LIVE | LOCAL_URLS)
    monkeypatch.setenv("KRAKEN_TUI_EXCHANGE__UNSAFE_ALLOW_NON_KRAKEN_LIVE_HOST", "true")
    settings = load_settings()
    assert settings.live_host_override() == "127.0.0.1:9000"
    set_env(monkeypatch, KRAKEN_URLS)
    assert load_settings().live_host_override() is None


def test_outside_live_mode_the_users_kraken_keys_are_never_read(
    run_cli: RunCli, tmp_path: Path
) -> None:
    # Shared and incomplete, the file would be refused if it were read; so would a key
    # without its secret in the environment.
    shared = write(tmp_path / "secrets.toml", f'api_key = "{API_KEY}"\n', 0o644)
    for mode in ("sandbox", "paper"):
        result = run_cli(
            *("--mode", mode, "--secrets", str(shared), "config", "check", "--format", "json"),
            env={"KRAKEN_API_KEY": API_KEY},
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["credentials"] is None


def test_outside_live_mode_settings_hold_no_kraken_credentials(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, {"KRAKEN_API_KEY": API_KEY, "KRAKEN_API_SECRET": API_SECRET})
    settings = load_settings()
    assert settings.credentials is None
    assert API_KEY not in settings.secret_values()


def test_sandbox_keys_are_secret_settings_of_their_own(
    run_cli: RunCli, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = {
        "KRAKEN_TUI_SANDBOX__API_KEY": "sandbox-key-7c1e",
        "KRAKEN_TUI_SANDBOX__API_SECRET": "c2FuZGJveC1zZWNyZXQtN2Mx",
    }
    result = run_cli("config", "check", "--format", "json", env=keys)
    assert result.returncode == 0, result.stderr
    sandbox = json.loads(result.stdout)["sandbox"]
    assert (sandbox["api_key"], sandbox["api_secret"]) == ("**********", "**********")
    for secret in keys.values():
        assert secret not in result.stdout + result.stderr
    set_env(monkeypatch, keys)
    assert set(keys.values()) <= set(load_settings().secret_values())


def test_a_sandbox_key_without_its_secret_exits_2_naming_the_missing_field(
    run_cli: RunCli,
) -> None:
    result = run_cli("config", "check", env={"KRAKEN_TUI_SANDBOX__API_KEY": "sandbox-key-7c1e"})
    assert result.returncode == 2, result.stderr
    assert "sandbox.api_secret" in result.stderr
    assert "sandbox-key-7c1e" not in result.stderr


@pytest.mark.parametrize("output", ["toml", "json"])
def test_config_check_masks_the_password_inside_the_redis_url(run_cli: RunCli, output: str) -> None:
    env = {"KRAKEN_TUI_REDIS__URL": "redis://ops:pw-3e9a1f@cache.internal:6379/0"}
    result = run_cli("config", "check", "--format", output, env=env)
    assert result.returncode == 0, result.stderr
    assert "redis://ops:****@cache.internal:6379/0" in result.stdout
    assert "pw-3e9a1f" not in result.stdout + result.stderr


def test_the_password_inside_the_redis_url_is_redacted_from_logs(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRAKEN_TUI_REDIS__URL", "redis://ops:pw-3e9a1f@cache.internal:6379/0")
    assert "pw-3e9a1f" in load_settings().secret_values()


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ('api_secet = "leaked-3f8a9c"\n', "api_secet"),
        ('[exchange]\napi_secet = "leaked-3f8a9c"\n', "exchange.api_secet"),
        ('[risk]\nmax_order_notionel = "leaked-3f8a9c"\n', "risk.max_order_notionel"),
    ],
)
def test_an_unknown_key_is_named_without_echoing_its_value(
    run_cli: RunCli, tmp_path: Path, toml: str, field: str
) -> None:
    config = write(tmp_path / "typo.toml", toml)
    result = run_cli("--config", str(config), "config", "check")
    assert result.returncode == 2, result.stderr
    assert f"{field} from {config}" in result.stderr
    assert "leaked-3f8a9c" not in result.stderr


def test_config_check_names_the_config_file_it_read(run_cli: RunCli, tmp_path: Path) -> None:
    config = write(tmp_path / "mine.toml", "book_depth = 25\n")
    result = run_cli("--config", "mine.toml", "config", "check")
    assert result.returncode == 0, result.stderr
    assert f"config: {config.resolve()}" in result.stderr
    defaults = run_cli("config", "check")
    assert "config: built-in defaults (no config file)" in defaults.stderr
