"""The real ``kraken-tui`` command in a subprocess: version, config check, headless lifetime."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kraken_tui import __version__

RunCli = Callable[..., subprocess.CompletedProcess[str]]
StartCli = Callable[..., subprocess.Popen[str]]
ENGINE_RUNNING = "engine starting -> running"
API_KEY = "AKEY-cli-0b8e4d1f"
API_SECRET = "Y2xpLXNlY3JldC1uZXZlci1sb2dnZWQ="


def test_version_prints_the_package_version(run_cli: RunCli) -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"kraken-tui {__version__}"


def test_unknown_option_is_a_usage_error_with_exit_2(run_cli: RunCli) -> None:
    result = run_cli("--no-such-flag")
    assert result.returncode == 2
    assert "No such option" in result.stderr


def test_negative_duration_is_a_usage_error_with_exit_2(run_cli: RunCli) -> None:
    assert run_cli("--no-ui", "--duration", "-1").returncode == 2


def test_config_check_prints_the_effective_configuration(run_cli: RunCli) -> None:
    result = run_cli("--mode", "paper", "config", "check")
    assert result.returncode == 0, result.stderr
    assert 'mode = "paper"' in result.stdout
    assert "[risk]" in result.stdout
    assert "configuration is valid" in result.stderr


def test_config_check_refuses_a_strategy_parameter_its_model_rejects_naming_it(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "bad.toml").write_text(
        '[[strategies]]\nname = "sma_all_in"\nclass = "sma_cross"\nsymbol = "BTC/USD"\n'
        'params = { all_in = "maybe" }\n'
    )
    result = run_cli("--config", "bad.toml", "config", "check")
    assert result.returncode == 2
    assert "strategy 'sma_all_in': params.all_in" in result.stderr
    assert "configuration is valid" not in result.stderr


def test_headless_run_trades_on_the_built_in_sandbox_for_a_duration_and_exits_0(
    run_cli: RunCli, tmp_path: Path
) -> None:
    result = run_cli("--no-ui", "--duration", "2", "--db", "state/run.sqlite3")
    assert result.returncode == 0, result.stderr
    assert "sandbox exchange ready at http://127.0.0.1:" in result.stderr
    assert ENGINE_RUNNING in result.stderr
    assert "run duration of 2.0s elapsed" in result.stderr
    assert "sandbox exchange stopped" in result.stderr
    log_file = tmp_path / "logs" / "kraken_tui.log"
    assert ENGINE_RUNNING in log_file.read_text()
    assert (tmp_path / "state" / "run.sqlite3").is_file()


def test_headless_logs_never_contain_configured_credentials(
    run_cli: RunCli, tmp_path: Path
) -> None:
    env = {"KRAKEN_API_KEY": API_KEY, "KRAKEN_API_SECRET": API_SECRET}
    result = run_cli("--no-ui", "--duration", "0.5", "--log-level", "DEBUG", env=env)
    assert result.returncode == 0, result.stderr
    everything = result.stdout + result.stderr
    everything += "".join(p.read_text() for p in (tmp_path / "logs").iterdir())
    assert API_KEY not in everything and API_SECRET not in everything


def wait_for_line(process: subprocess.Popen[str], text: str, timeout: float = 30.0) -> str:
    """Read stderr until a line containing ``text`` appears; returns what was read."""
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    pytest.fail(f"{text!r} never appeared; stderr so far:\n{''.join(seen)}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_shuts_headless_down_cleanly_with_exit_0(
    start_cli: StartCli, tmp_path: Path, signum: signal.Signals
) -> None:
    process = start_cli("--no-ui", "--db", "run.sqlite3")
    wait_for_line(process, ENGINE_RUNNING)

    process.send_signal(signum)
    _, rest = process.communicate(timeout=30)

    assert process.returncode == 0, rest
    assert f"received {signum.name}, shutting down" in rest
    assert "store closed" in rest
    with sqlite3.connect(tmp_path / "run.sqlite3") as database:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not (tmp_path / "run.sqlite3-wal").exists() or (
        (tmp_path / "run.sqlite3-wal").stat().st_size == 0
    )


def test_configuration_error_at_startup_exits_2_without_starting(
    run_cli: RunCli, tmp_path: Path
) -> None:
    result = run_cli("--no-ui", "--duration", "1", env={"KRAKEN_TUI_UI__REFRESH_HZ": "fast"})
    assert result.returncode == 2
    assert "ui.refresh_hz from environment variable KRAKEN_TUI_UI__REFRESH_HZ" in result.stderr
    assert not (tmp_path / "logs").exists()


def test_database_from_a_newer_version_is_refused_with_exit_1(
    run_cli: RunCli, tmp_path: Path
) -> None:
    assert run_cli("--no-ui", "--duration", "0", "--db", "app.sqlite3").returncode == 0
    with sqlite3.connect(tmp_path / "app.sqlite3") as database:
        database.execute(
            "INSERT INTO schema_version (version, name, applied_at, checksum)"
            " VALUES (999, '999_future.sql', '2099-01-01T00:00:00Z', 'x')"
        )
    result = run_cli("--no-ui", "--duration", "1", "--db", "app.sqlite3")
    assert result.returncode == 1
    assert "cannot open the store app.sqlite3" in result.stderr
    assert "Traceback" not in result.stderr


def test_partial_exchange_urls_stop_the_start_with_exit_2_before_anything_connects(
    run_cli: RunCli, tmp_path: Path
) -> None:
    env = {
        "KRAKEN_TUI_EXCHANGE__WS_URL": "ws://127.0.0.1:9",
        "KRAKEN_TUI_EXCHANGE__WS_AUTH_URL": "ws://127.0.0.1:9/auth",
        "KRAKEN_TUI_EXCHANGE__REQUEST_TIMEOUT_S": "1",
    }
    result = run_cli("--no-ui", "--duration", "0", env=env)
    assert result.returncode == 2, result.stderr
    assert "exchange.rest_url" in result.stderr
    assert not (tmp_path / "logs").exists()


def test_headless_start_logs_the_config_file_in_use(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "run.toml").write_text("book_depth = 25\n")
    with_file = run_cli("--no-ui", "--duration", "0", "--config", "run.toml")
    assert with_file.returncode == 0, with_file.stderr
    assert f"config: {(tmp_path / 'run.toml').resolve()}" in with_file.stderr
    without = run_cli("--no-ui", "--duration", "0")
    assert without.returncode == 0, without.stderr
    assert "config: built-in defaults (no config file)" in without.stderr


def test_live_mode_on_an_overridden_host_says_so_at_start(run_cli: RunCli, tmp_path: Path) -> None:
    from kraken_tui.sandbox.process import SandboxProcess

    with SandboxProcess(rate=50.0, state_path=tmp_path / "venue.sqlite3") as box:
        env = {
            "KRAKEN_TUI_MODE": "live",
            "KRAKEN_TUI_LIVE_TRADING_CONFIRMED": "true",
            "KRAKEN_TUI_EXCHANGE__UNSAFE_ALLOW_NON_KRAKEN_LIVE_HOST": "true",
            "KRAKEN_TUI_EXCHANGE__REST_URL": box.rest_url,
            "KRAKEN_TUI_EXCHANGE__WS_URL": box.ws_url,
            "KRAKEN_TUI_EXCHANGE__WS_AUTH_URL": box.ws_auth_url,
            "KRAKEN_API_KEY": box.api_key,
            "KRAKEN_API_SECRET": box.api_secret,
        }
        result = run_cli("--no-ui", "--duration", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert f"LIVE endpoints overridden: override host 127.0.0.1:{box.port}" in result.stderr
    assert ENGINE_RUNNING in result.stderr
