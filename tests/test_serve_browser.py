"""`kraken-tui serve` end to end: a headless engine publishing to a real redis-server, the
real `serve` command in a subprocess, and headless Chromium opening the console it serves.

What the browser shows is read from the terminal the page draws (xterm.js paints on a canvas,
so the test reaches the page's terminal buffer through a one-line hook added to the page's
script in the browser, never on the server), and a screenshot is kept to look at.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from headless_chromium import Tab, headless_chromium

START_TIMEOUT_S = 90.0
SCREEN_TIMEOUT_S = 90.0
EXPOSE_CONSOLE = ("t.fit(),s||t.connect()", "window.__console=t,t.fit(),s||t.connect()")
SCREEN_TEXT = """(() => {
  const c = window.__console;
  if (!c) return "";
  const buffer = c.terminal.buffer.active;
  const lines = [];
  for (let y = 0; y < buffer.length; y++) lines.push(buffer.getLine(y).translateToString(true));
  return lines.join("\\n");
})()"""
PANELS = ("Strategies", "Positions", "SANDBOX")


def engine_env(redis_url: str, engine: str) -> dict[str, str]:
    return {
        "KRAKEN_TUI_REDIS__URL": redis_url,
        "KRAKEN_TUI_REDIS__KEY_PREFIX": f"serve-{engine}",
        "KRAKEN_TUI_REDIS__ENGINE_ID": engine,
        "KRAKEN_TUI_REDIS__COMMAND_SECRET": "browser-test-secret-0123456789abcdef",
    }


def wait_for_engine(
    run_cli: Callable[..., subprocess.CompletedProcess[str]], env: dict[str, str], engine: str
) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        listed = run_cli("engines", env=env)
        lines = listed.stdout.splitlines()
        if any(line.startswith(engine) and " running " in line for line in lines):
            return listed.stdout
        time.sleep(0.5)
    pytest.fail(f"the headless engine did not start: {listed.stdout}{listed.stderr}")
    return ""


async def read_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), START_TIMEOUT_S)
    assert line, f"serve printed no URL; stderr: {process.stderr.read() if process.stderr else ''}"
    return line.strip()


async def console_text(tab: Tab, *needles: str) -> str:
    """The console's screen once every needle shows on it."""
    checks = " && ".join(f"text.includes({needle!r})" for needle in needles)
    await tab.wait_for(
        f"(() => {{ const text = {SCREEN_TEXT}; return {checks}; }})()", SCREEN_TIMEOUT_S
    )
    text: str = await tab.evaluate(SCREEN_TEXT)
    return text


async def test_serve_shows_the_engines_console_in_two_tabs_and_refuses_requests_without_the_token(
    tmp_path: Path,
    redis_server: str,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    start_cli: Callable[..., subprocess.Popen[str]],
) -> None:
    engine = f"desk-{uuid.uuid4().hex[:8]}"
    env = engine_env(redis_server, engine)
    start_cli("--no-ui", "--db", str(tmp_path / "engine.sqlite3"), env=env)
    await asyncio.to_thread(wait_for_engine, run_cli, env, engine)
    serve = start_cli("serve", "--port", "0", env=env)
    url = await read_url(serve)
    match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{40,})", url)
    assert match, f"serve printed {url!r}"
    base, token = f"http://127.0.0.1:{match[1]}", match[2]

    async with aiohttp.ClientSession() as client:
        for path in ("/", "/?token=not-the-token", "/static/js/textual.js", "/ws"):
            async with client.get(base + path, allow_redirects=False) as answer:
                assert answer.status == 403, f"{path} answered {answer.status} without the token"
        try:
            await client.ws_connect(f"{base}/ws?width=80&height=24")
            pytest.fail("the console's WebSocket opened without the token")
        except aiohttp.WSServerHandshakeError as refused:
            assert refused.status == 403
        async with client.get(url, allow_redirects=False) as answer:
            assert answer.status == 302 and answer.headers["Location"] == "/"
        try:
            await client.ws_connect(
                f"{base}/ws?width=80&height=24", headers={"Origin": "http://evil.example"}
            )
            pytest.fail("a page of another site opened the console's WebSocket")
        except aiohttp.WSServerHandshakeError as refused:
            assert refused.status == 403

    async with headless_chromium() as browser:
        first = await browser.new_tab(width=1280, height=800)
        await first.rewrite_responses("*textual.js", lambda js: js.replace(*EXPOSE_CONSOLE))
        await first.goto(url)
        assert await first.evaluate("location.href") == base + "/", "token left in the address"
        first_screen = await console_text(first, *PANELS)
        await first.screenshot(tmp_path / "first-tab.png")

        second = await browser.new_tab(width=1280, height=800)
        await second.rewrite_responses("*textual.js", lambda js: js.replace(*EXPOSE_CONSOLE))
        await second.goto(base + "/")
        second_screen = await console_text(second, *PANELS)
        await second.screenshot(tmp_path / "second-tab.png")

        for tab in (first, second):
            title = await tab.evaluate("document.querySelector('.intro').innerText")
            assert f"engine {engine}" in title

        consoles = attach_processes(engine)
        assert len(consoles) == 2, f"one attach console per tab, found {consoles}"

    for screen in (first_screen, second_screen):
        assert "sma_cross_btc" in screen and "market_maker_eth" in screen, screen
    listed = run_cli("engines", env=env).stdout.strip().splitlines()
    assert len(listed) == 1 and listed[0].startswith(engine), "a tab started an engine"
    serve.terminate()
    _, errors = await asyncio.to_thread(serve.communicate, timeout=30)
    assert serve.returncode == 0, errors
    assert token not in errors


def attach_processes(engine: str) -> list[str]:
    """Command lines of the running `kraken-tui attach` consoles on `engine`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"attach" in argv and engine.encode() in argv and b"kraken_tui" in argv:
            found.append(" ".join(a.decode(errors="replace") for a in argv))
    return found
