"""`kraken-tui preflight` run as a user runs it, against the sandbox over real sockets.

Good settings pass every line; each way of being unready fails its own line with the
exchange's own error and makes the command exit 1. Order probes use Kraken's `validate`
flag (docs.kraken.com/api/docs/rest-api/add-order: "Validate inputs only. Do not submit
order"), so nothing may appear on the book.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sandbox_harness import DEV_API_KEY, SandboxThread, sandbox_in_thread

STRATEGIES = Path(__file__).parent / "preflight_strategies"
RunCli = Callable[..., subprocess.CompletedProcess[str]]


def _config(workdir: Path, strategies: str = "", extra: str = "") -> Path:
    path = workdir / "kraken_tui.toml"
    path.write_text(
        f"""
symbols = ["BTC/USD", "ETH/USD"]
strategy_dir = "{STRATEGIES}"
{extra}
[storage]
db_path = "{workdir / "data" / "engine.sqlite3"}"
[logging]
dir = "{workdir / "logs"}"
[sandbox]
state_path = "{workdir / "data" / "sandbox.sqlite3"}"
rate = 50
{strategies}
"""
    )
    return path


def _external(box: SandboxThread) -> dict[str, str]:
    assert box.server is not None
    return {
        "KRAKEN_TUI_EXCHANGE__REST_URL": box.server.rest_url,
        "KRAKEN_TUI_EXCHANGE__WS_URL": box.server.ws_url,
        "KRAKEN_TUI_EXCHANGE__WS_AUTH_URL": box.server.ws_auth_url,
    }


def _checks(completed: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    report = json.loads(completed.stdout)
    return {check["name"]: check for check in report["checks"]}


@pytest.fixture
def box(tmp_path: Path) -> Iterator[SandboxThread]:
    with sandbox_in_thread(state_path=tmp_path / "external-sandbox.sqlite3") as running:
        yield running


def _open_orders(box: SandboxThread) -> list[Any]:
    assert box.server is not None
    return list(box.call(box.server.venue.open_orders, DEV_API_KEY))


def _only_failure(checks: Mapping[str, dict[str, Any]], name: str) -> dict[str, Any]:
    failed = {n for n, check in checks.items() if check["outcome"] != "ok"}
    assert failed == {name}, failed
    return checks[name]


def test_preflight_passes_every_check_against_the_built_in_sandbox_with_good_settings(
    run_cli: RunCli, tmp_path: Path
) -> None:
    config = _config(
        tmp_path,
        """
[[strategies]]
name = "trend"
class = "sma_cross"
symbol = "BTC/USD"
params = { notional = "500" }
[[strategies]]
name = "maker"
class = "market_maker"
symbol = "ETH/USD"
""",
    )
    completed = run_cli("--config", str(config), "preflight", "--format", "json")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(completed.stdout)
    assert report["passed"] is True
    assert report["target"].startswith("built-in sandbox at http://127.0.0.1:")
    checks = _checks(completed)
    assert all(check["outcome"] == "ok" for check in checks.values())
    assert {
        "exchange clock",
        "API key signs",
        "nonces accepted",
        "REST tier",
        "WebSocket token",
        "private WebSocket",
        "fees and volume",
        "order of trend",
        "order of maker",
        "dead man's switch",
    } == set(checks)
    assert "XXBTZUSD taker 0.40% maker 0.25%" in checks["fees and volume"]["detail"]
    assert "not placed" in checks["order of maker"]["detail"]
    assert "0.1" in checks["order of maker"]["detail"]  # the market maker's quote_size


def test_a_wrong_secret_fails_the_key_line_with_krakens_error_and_skips_what_needs_it(
    run_cli: RunCli, tmp_path: Path, box: SandboxThread
) -> None:
    wrong_secret = base64.b64encode(b"not the sandbox's secret" * 3).decode()
    env = _external(box) | {
        "KRAKEN_TUI_SANDBOX__API_KEY": DEV_API_KEY,
        "KRAKEN_TUI_SANDBOX__API_SECRET": wrong_secret,
    }
    completed = run_cli("--config", str(_config(tmp_path)), "preflight", env=env)
    assert completed.returncode == 1
    assert "FAIL  API key signs" in completed.stdout
    assert "exchange said: EAPI:Invalid signature" in completed.stdout
    assert "what to do: the secret does not belong to this key" in completed.stdout
    assert "skip  dead man's switch" in completed.stdout
    assert wrong_secret not in completed.stdout + completed.stderr

    as_json = run_cli("--config", str(_config(tmp_path)), "preflight", "--format", "json", env=env)
    checks = _checks(as_json)
    assert checks["exchange clock"]["outcome"] == "ok"
    assert checks["API key signs"]["exchange_error"] == "EAPI:Invalid signature"
    assert checks["private WebSocket"]["outcome"] == "skip"


def test_an_order_under_the_pairs_minimum_fails_its_strategy_line(
    run_cli: RunCli, tmp_path: Path, box: SandboxThread
) -> None:
    config = _config(
        tmp_path,
        """
[[strategies]]
name = "tiny"
class = "sma_cross"
symbol = "BTC/USD"
params = { volume = "0.00001" }
""",
    )
    completed = run_cli(
        "--config", str(config), "preflight", "--format", "json", env=_external(box)
    )
    assert completed.returncode == 1
    failed = _only_failure(_checks(completed), "order of tiny")
    assert failed["exchange_error"] == "EOrder:Order minimum not met"
    assert "fix its params" in failed["advice"]
    assert _open_orders(box) == []


def test_a_price_off_the_tick_grid_fails_its_strategy_line(
    run_cli: RunCli, tmp_path: Path, box: SandboxThread
) -> None:
    config = _config(
        tmp_path,
        """
[[strategies]]
name = "fixed"
class = "fixed_bid.py:FixedBid"
symbol = "BTC/USD"
params = { price = "50000.05", volume = "0.01" }
""",
    )
    completed = run_cli("--config", str(config), "preflight", env=_external(box))
    assert completed.returncode == 1
    assert "FAIL  order of fixed" in completed.stdout
    assert "exchange said: EOrder:Tick size check failed" in completed.stdout
    assert "1 of 9 checks did not pass" in completed.stdout
    assert _open_orders(box) == []


def test_a_stalled_exchange_fails_the_first_line_and_skips_the_rest(
    run_cli: RunCli, tmp_path: Path, box: SandboxThread
) -> None:
    assert box.server is not None
    box.call(box.server.faults.apply, {"stall_s": 20})
    config = _config(tmp_path, extra="[exchange]\nrequest_timeout_s = 1.0")
    completed = run_cli(
        "--config", str(config), "preflight", "--format", "json", env=_external(box)
    )
    assert completed.returncode == 1
    checks = _checks(completed)
    clock = checks["exchange clock"]
    assert clock["outcome"] == "FAIL"
    assert clock["detail"] == "no answer within 1 s"
    assert "does not answer" in clock["advice"]
    assert {check["outcome"] for name, check in checks.items() if name != "exchange clock"} == {
        "skip"
    }
