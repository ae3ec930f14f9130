"""Persistent nonces: strictly increasing within a process, across restarts and across
processes sharing the state file, and actually used by the SDK's signed requests."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
from itertools import pairwise
from pathlib import Path

from aiohttp import web
from kraken.base_api import SpotClient

from kraken_tui.exchange.kraken_rest import _NonceClient
from kraken_tui.exchange.nonce import (
    NONCE_UNITS_PER_SECOND,
    NonceStore,
    invalid_nonce_explanation,
    is_invalid_nonce_error,
)


def run_in_new_process(path: Path, count: int, *, frozen_clock: float | None = None) -> list[int]:
    """Draw `count` nonces in a fresh interpreter (a restart, as far as the store knows)."""
    clock = "" if frozen_clock is None else f", clock=lambda: {frozen_clock!r}"
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from kraken_tui.exchange.nonce import NonceStore
        store = NonceStore(Path({str(path)!r}){clock})
        print(" ".join(str(store.next()) for _ in range({count})))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return [int(value) for value in result.stdout.split()]


def test_nonces_use_the_sdk_time_scale_and_strictly_increase(tmp_path: Path) -> None:
    store = NonceStore(tmp_path / "nonce")
    nonces = [store.next() for _ in range(200)]
    assert all(later > earlier for earlier, later in pairwise(nonces))
    assert store.last() == nonces[-1]
    assert abs(nonces[0] - int(SpotClient().get_nonce())) < 60 * NONCE_UNITS_PER_SECOND


def test_a_clock_stepping_backwards_cannot_repeat_a_nonce(tmp_path: Path) -> None:
    now = [2_000_000_000.0]
    store = NonceStore(tmp_path / "nonce", clock=lambda: now[0])
    first = store.next()
    now[0] -= 3600
    second = store.next()
    assert second == first + 1


def test_nonces_keep_increasing_across_process_restarts(tmp_path: Path) -> None:
    path = tmp_path / "state" / "nonce"
    here = NonceStore(path)
    before = here.next()

    # The restarted process's clock is far behind: only the persisted value saves it.
    restarted = run_in_new_process(path, 3, frozen_clock=1.0)

    assert restarted == [before + 1, before + 2, before + 3]
    assert here.next() > restarted[-1]


def test_concurrent_processes_sharing_the_file_never_hand_out_the_same_nonce(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nonce"
    code = (
        "from pathlib import Path\n"
        "from kraken_tui.exchange.nonce import NonceStore\n"
        f"store = NonceStore(Path({str(path)!r}), clock=lambda: 5.0)\n"
        "print(' '.join(str(store.next()) for _ in range(150)))\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    drawn = [[int(value) for value in output.split()] for output in outputs]

    for sequence in drawn:
        assert sequence == sorted(sequence)
    everything = drawn[0] + drawn[1]
    assert len(set(everything)) == 300
    assert NonceStore(path).last() == max(everything)


def test_an_unreadable_state_file_falls_back_to_the_clock(tmp_path: Path) -> None:
    path = tmp_path / "nonce"
    path.write_text("garbage")
    store = NonceStore(path, clock=lambda: 1_700_000_000.0)
    assert store.next() == 1_700_000_000 * NONCE_UNITS_PER_SECOND
    assert path.read_text().strip() == str(1_700_000_000 * NONCE_UNITS_PER_SECOND)


async def test_the_sdk_signs_private_requests_with_our_nonces(tmp_path: Path) -> None:
    received: list[str] = []

    async def balance(request: web.Request) -> web.Response:
        form = await request.post()
        received.append(str(form["nonce"]))
        return web.json_response({"error": [], "result": {"ZUSD": "100.0000"}})

    app = web.Application()
    app.router.add_post("/0/private/Balance", balance)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    store = NonceStore(tmp_path / "nonce", clock=lambda: 42.0)
    client = _NonceClient(
        store.next,
        key="public-key",
        secret=base64.b64encode(b"secret").decode(),
        url=f"http://127.0.0.1:{port}",
    )
    try:
        for _ in range(3):
            result = await client.request("POST", "/0/private/Balance")
            assert result == {"ZUSD": "100.0000"}
    finally:
        await client.close()
        await runner.cleanup()

    first = 42 * NONCE_UNITS_PER_SECOND
    assert received == [str(first), str(first + 1), str(first + 2)]


def test_invalid_nonce_is_explained_with_the_one_key_per_process_rule(tmp_path: Path) -> None:
    assert is_invalid_nonce_error("EAPI:Invalid nonce")
    assert not is_invalid_nonce_error("EAPI:Invalid key")
    text = invalid_nonce_explanation(tmp_path / "nonce")
    assert "only one process may use a key" in text
    assert "separate API key" in text
    assert str(tmp_path / "nonce") in text
