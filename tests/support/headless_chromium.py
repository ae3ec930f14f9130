"""Debian's headless Chromium driven over the DevTools protocol (one websocket, aiohttp), for
tests that must see what a person's browser shows: page text, the DOM, a screenshot, and
every request the page made.

Chromium starts with a new empty profile and the flags that keep it off the network (no
background fetches, no component updates, no sync); `scripts/test` installs it when missing.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import itertools
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)
START_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 30.0


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Tab:
    """One page target; `requests` lists every URL it asked for, in order."""

    def __init__(self, browser: Browser, session_id: str) -> None:
        self._browser = browser
        self.session_id = session_id
        self.requests: list[str] = []
        self._loaded = asyncio.Event()
        self._rewrites: dict[str, Callable[[str], str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self._browser.call(method, params, self.session_id)

    def on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Page.loadEventFired":
            self._loaded.set()
        elif method == "Fetch.requestPaused":
            task = asyncio.create_task(self._rewrite(params))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def rewrite_responses(self, url_pattern: str, rewrite: Callable[[str], str]) -> None:
        """Pass every response whose URL matches `url_pattern` through `rewrite` before the
        page sees it (a test's way to reach into a page's script, never the server's)."""
        self._rewrites[url_pattern] = rewrite
        patterns = [{"urlPattern": p, "requestStage": "Response"} for p in self._rewrites]
        await self.call("Fetch.enable", {"patterns": patterns})

    async def _rewrite(self, paused: dict[str, Any]) -> None:
        url = paused["request"]["url"]
        rewrite = next(
            (f for pattern, f in self._rewrites.items() if fnmatch.fnmatch(url, pattern)), None
        )
        if rewrite is None or paused.get("responseStatusCode") != 200:
            await self.call("Fetch.continueRequest", {"requestId": paused["requestId"]})
            return
        body = await self.call("Fetch.getResponseBody", {"requestId": paused["requestId"]})
        raw = body["body"]
        text = base64.b64decode(raw).decode() if body["base64Encoded"] else raw
        await self.call(
            "Fetch.fulfillRequest",
            {
                "requestId": paused["requestId"],
                "responseCode": 200,
                "responseHeaders": paused.get("responseHeaders", []),
                "body": base64.b64encode(rewrite(text).encode()).decode(),
            },
        )

    async def goto(self, url: str, timeout_s: float = CALL_TIMEOUT_S) -> None:
        self._loaded.clear()
        answer = await self.call("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise RuntimeError(f"navigation to {url} failed: {answer['errorText']}")
        await asyncio.wait_for(self._loaded.wait(), timeout_s)

    async def evaluate(self, expression: str) -> Any:
        answer = await self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression!r} threw: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def wait_for(self, expression: str, timeout_s: float = CALL_TIMEOUT_S) -> Any:
        """The first truthy value of `expression`, polled every 100 ms."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{expression!r} stayed falsy for {timeout_s} s")
            await asyncio.sleep(0.1)

    async def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        answer = await self.call("Page.captureScreenshot", params)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(answer["data"]))
        return path


class Browser:
    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._tabs: dict[str, Tab] = {}
        self._reader = asyncio.create_task(self._read())

    async def call(
        self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None
    ) -> dict[str, Any]:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        await self._socket.send_json(message)
        return await asyncio.wait_for(future, CALL_TIMEOUT_S)

    async def new_tab(self, width: int = 1280, height: int = 800) -> Tab:
        target = await self.call("Target.createTarget", {"url": "about:blank"})
        attached = await self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        tab = Tab(self, attached["sessionId"])
        self._tabs[tab.session_id] = tab
        await tab.call("Page.enable")
        await tab.call("Network.enable")
        await tab.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        return tab

    async def _read(self) -> None:
        async for message in self._socket:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = message.json()
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is None or future.done():
                    continue
                if "error" in data:
                    future.set_exception(RuntimeError(f"DevTools error: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))
            elif (tab := self._tabs.get(data.get("sessionId", ""))) is not None:
                tab.on_event(data["method"], data.get("params", {}))

    async def close(self) -> None:
        self._reader.cancel()
        await self._socket.close()


@asynccontextmanager
async def headless_chromium() -> AsyncIterator[Browser]:
    """A fresh headless Chromium, killed (and its profile removed) on exit."""
    binary = chromium_binary()
    if binary is None:
        raise RuntimeError("chromium is not installed; run the suite with scripts/test")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        process = await asyncio.create_subprocess_exec(
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            endpoint = await _devtools_endpoint(Path(profile), process)
            async with aiohttp.ClientSession() as session:
                socket = await session.ws_connect(endpoint, max_msg_size=0)
                browser = Browser(socket)
                try:
                    yield browser
                finally:
                    await browser.close()
        finally:
            process.kill()
            await asyncio.wait_for(process.wait(), 10)


async def _devtools_endpoint(profile: Path, process: asyncio.subprocess.Process) -> str:
    """Chromium writes its chosen port and browser path to DevToolsActivePort once it listens."""
    marker = profile / "DevToolsActivePort"
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"chromium exited with {process.returncode} before listening")
        lines = marker.read_text().splitlines() if marker.exists() else []
        if len(lines) >= 2:
            return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        await asyncio.sleep(0.05)
    raise TimeoutError(f"chromium did not open its DevTools port within {START_TIMEOUT_S} s")
