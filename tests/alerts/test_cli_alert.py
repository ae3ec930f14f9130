"""`kraken-tui alert test` and `config check` through the real CLI in a subprocess."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from alert_receiver import alert_receiver

RunCli = Callable[..., subprocess.CompletedProcess[str]]
TOKEN = "k7Hq2pZx9"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(tmp_path: Path, urls: list[str]) -> str:
    path = tmp_path / "alerts.toml"
    path.write_text(
        "[alerts]\nurls = " + json.dumps(urls) + "\ntimeout_s = 1.0\nretry_backoff_s = 0.05\n"
    )
    return str(path)


def test_alert_test_reports_each_destination_and_exits_1_when_one_fails(
    run_cli: RunCli, tmp_path: Path
) -> None:
    dead = closed_port()
    with alert_receiver() as receiver:
        config = write_config(tmp_path, [receiver.url(), f"json://127.0.0.1:{dead}/x/{TOKEN}"])
        done = run_cli("--config", config, "alert", "test", "--retries", "1")
        [body] = receiver.wait_for(lambda got: len(got) == 1)
    assert done.returncode == 1, done.stderr
    assert body["title"] == "kraken-tui test alert"
    assert "If you read this, alerts reach you." in body["message"]
    ok, failed = done.stdout.splitlines()
    assert ok == f"ok      json://127.0.0.1:{receiver.port}/alerts/**** (1 attempt)"
    assert failed.startswith(f"FAILED  json://127.0.0.1:{dead}/x/**** (2 attempts): ")
    assert TOKEN not in done.stdout + done.stderr


def test_alert_test_exits_0_when_every_destination_took_it(run_cli: RunCli, tmp_path: Path) -> None:
    with alert_receiver() as receiver:
        done = run_cli("--config", write_config(tmp_path, [receiver.url()]), "alert", "test")
        receiver.wait_for(lambda got: len(got) == 1)
    assert done.returncode == 0, done.stderr


def test_alert_test_without_destinations_exits_2_saying_what_to_set(run_cli: RunCli) -> None:
    done = run_cli("alert", "test")
    assert done.returncode == 2
    assert "no destination configured; set alerts.urls" in done.stderr


def test_config_check_masks_alert_urls_but_names_their_service(
    run_cli: RunCli, tmp_path: Path
) -> None:
    telegram = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12345"
    done = run_cli("--config", write_config(tmp_path, [telegram]), "config", "check")
    assert done.returncode == 0, done.stderr
    assert 'urls = ["tgram://123456789:****/12345"]' in done.stdout
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in done.stdout + done.stderr


def test_a_url_apprise_cannot_use_exits_2_naming_the_field_not_the_secret(
    run_cli: RunCli, tmp_path: Path
) -> None:
    bad = "tgramx://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12345"
    done = run_cli("--config", write_config(tmp_path, [bad]), "config", "check")
    assert done.returncode == 2
    assert "alerts.urls" in done.stderr and "entry 0" in done.stderr
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in done.stdout + done.stderr
