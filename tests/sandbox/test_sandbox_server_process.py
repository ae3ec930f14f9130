"""The sandbox as a child process and as the standalone `python -m kraken_tui.sandbox`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import aiohttp
import pytest
from kraken.spot import Market, User

from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET
from kraken_tui.sandbox.cli_sandbox import READY_PREFIX, run_sandbox
from kraken_tui.sandbox.process import SandboxProcess


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie we spawned ourselves counts as gone
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return finished == 0


def _wait_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_child_process_serves_the_sdk_and_stops_on_exit() -> None:
    with SandboxProcess(rate=50) as box:
        assert box.port is not None and box.port > 0
        assert Market(url=box.rest_url).get_system_status()["status"] == "online"
        user = User(key=box.api_key, secret=box.api_secret, url=box.rest_url)
        assert "ZUSD" in user.get_account_balance()
        pid = box.pid
    assert pid is not None and _wait_gone(pid, 10)


async def test_child_process_starts_and_stops_from_async_code() -> None:
    async with SandboxProcess(rate=0) as box, aiohttp.ClientSession() as session:
        async with session.get(box.rest_url + "/0/public/Time") as response:
            assert (await response.json())["error"] == []
        assert box.ws_auth_url == box.ws_url + "/auth"


def test_child_exits_when_its_parent_dies_without_cleaning_up() -> None:
    parent = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os\n"
            "from kraken_tui.sandbox.process import SandboxProcess\n"
            "box = SandboxProcess(rate=0).start()\n"
            "print(box.pid, flush=True)\n"
            "os._exit(0)\n",
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    child_pid = int(parent.stdout.split()[-1])
    assert _wait_gone(child_pid, 10)


def test_standalone_cli_prints_credentials_and_accepts_an_extra_account() -> None:
    extra_secret = base64.b64encode(b"my own sandbox secret, 32 bytes!").decode()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kraken_tui.sandbox",
            "--port",
            "0",
            "--rate",
            "0",
            "--ready-line",
            "--exit-on-stdin-eof",
            "--api-key",
            "my-key",
            "--api-secret",
            extra_secret,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith(READY_PREFIX):
                break
        ready = json.loads(banner[-1][len(READY_PREFIX) :])
        text = "".join(banner)
        assert DEV_API_KEY in text and DEV_API_SECRET in text
        assert "my-key" in text and extra_secret not in text
        user = User(key="my-key", secret=extra_secret, url=ready["rest_url"])
        assert float(user.get_account_balance()["ZUSD"]) > 0
    finally:
        assert process.stdin is not None
        process.stdin.close()
        assert process.wait(10) == 0


def test_run_sandbox_refuses_a_key_without_its_secret() -> None:
    with pytest.raises(ValueError, match="together"):
        run_sandbox(port=0, api_key="lonely")


def _option_names(*command: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    return {word.strip("│,") for word in result.stdout.split() if word.startswith("--")}


def test_kraken_tui_sandbox_and_python_m_kraken_tui_sandbox_take_the_same_options() -> None:
    console = _option_names("kraken_tui", "sandbox")
    standalone = _option_names("kraken_tui.sandbox")
    assert console == standalone
    assert {"--faults", "--mirror", "--mirror-url", "--mirror-pairs", "--tier", "--rate"} <= console
    assert {"--ready-line", "--exit-on-stdin-eof", "--time-scale", "--replay"} <= console


@pytest.mark.parametrize("faults", ["[1]", "{not json"])
def test_a_fault_plan_that_is_not_a_json_object_is_a_usage_error(faults: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kraken_tui", "sandbox", "--port", "0", "--faults", faults],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "--faults" in result.stderr
