"""`kraken-tui serve`: the attach console in a web browser, through textual-serve.

Each browser tab runs its own `kraken-tui attach --engine ID` process (textual-serve starts
one per WebSocket), so every tab shows the same engine through Redis and none starts an
engine of its own; closing a tab ends only its console.

textual-serve has no authentication, and the console can trade, so the server is gated: a
random token is made at start and printed once in the URL; the first request carrying it gets
an HttpOnly, SameSite=Strict cookie and is redirected to the same page without the token (out
of the address bar and history). Every other request, the static files and the WebSocket
included, is refused with 403 unless it carries the cookie; the WebSocket must also come from
a page of this server (its Origin), so another site cannot drive the console from a browser
that holds the cookie. The server binds loopback unless told otherwise, keeps no access log
(request lines would hold the token), and caps the consoles running at once.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
import shlex
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from textual_serve.server import Server

from kraken_tui.cache.cli_remote import redis_location
from kraken_tui.cache.connection import REDIS_FAILURES, open_redis
from kraken_tui.cache.keys import EngineKeys, check_engine_id
from kraken_tui.cache.presence import read_heartbeat
from kraken_tui.cli_options import CliOptions
from kraken_tui.settings import Settings

EXIT_OK = 0
EXIT_RUNTIME_FAILURE = 1
EXIT_USAGE = 2

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_SESSIONS = 8
TOKEN_BYTES = 32
SHUTDOWN_TIMEOUT_S = 10.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ServeError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class GatedServer(Server):
    """textual-serve's server behind the access token, with a cap on running consoles."""

    def __init__(
        self, command: str, *, host: str, port: int, token: str, title: str, max_sessions: int
    ) -> None:
        super().__init__(command, host=host, port=port, title=title)
        self._token = token.encode()
        self._cookie = f"kraken_tui_serve_{port}"
        self._max_sessions = max_sessions
        self._sessions = 0

    def bind(self, port: int) -> None:
        """The port actually bound (with --port 0), in every URL the pages are given."""
        self.port = port
        self.public_url = f"http://{_url_host(self.host)}:{port}"
        # Cookies are per host, not per port: two servers on one machine keep apart by name.
        self._cookie = f"kraken_tui_serve_{port}"

    async def application(self) -> web.Application:
        app = await self._make_app()
        app.middlewares.append(self._gate)
        return app

    async def on_startup(self, app: web.Application) -> None:
        """Quiet: `serve` prints its one URL itself (textual-serve would print a banner)."""

    @web.middleware
    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        supplied = request.query.get("token")
        if supplied is not None and self._is_token(supplied):
            if request.path == "/":
                query = {k: v for k, v in request.query.items() if k != "token"}
                target = "/" + (f"?{urlencode(query)}" if query else "")
                redirect = web.HTTPFound(location=target)
                redirect.set_cookie(
                    self._cookie, self._token.decode(), httponly=True, samesite="Strict", path="/"
                )
                raise redirect
            return await handler(request)
        cookie = request.cookies.get(self._cookie)
        if cookie is None or not self._is_token(cookie):
            raise web.HTTPForbidden(
                text="kraken-tui serve: open the full URL printed when the server started "
                "(it carries the access token).\n"
            )
        if request.path == "/ws" and not _same_origin(request):
            raise web.HTTPForbidden(text="kraken-tui serve: console requests from another site\n")
        return await handler(request)

    def _is_token(self, supplied: str) -> bool:
        return hmac.compare_digest(supplied.encode(errors="replace"), self._token)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        if self._sessions >= self._max_sessions:
            raise web.HTTPServiceUnavailable(
                text=f"kraken-tui serve: {self._max_sessions} consoles are open already; "
                "close a tab (or restart serve with a higher --max-sessions)\n"
            )
        self._sessions += 1
        try:
            return await super().handle_websocket(request)
        finally:
            self._sessions -= 1


def root_args(options: CliOptions) -> list[str]:
    """The root options given to `serve`, to hand on to each tab's `attach`."""
    given = (
        ("--config", options.config),
        ("--secrets", options.secrets),
        ("--mode", options.mode),
        ("--db", options.db),
        ("--log-level", options.log_level),
    )
    return [arg for flag, value in given if value is not None for arg in (flag, str(value))]


def attach_command(root_args: Sequence[str], engine_id: str) -> str:
    """The shell command each tab runs: this interpreter's `kraken-tui attach`, with the
    same root options (config, secrets, database, log level) `serve` was given."""
    argv = [sys.executable, "-m", "kraken_tui", *root_args, "attach", "--engine", engine_id]
    return shlex.join(argv)


def serve(
    settings: Settings,
    root_args: Sequence[str],
    engine_id: str | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Serve the console until SIGINT or SIGTERM; returns the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        engine = asyncio.run(_engine_running(settings, engine_id))
        token = secrets.token_urlsafe(TOKEN_BYTES)
        server = GatedServer(
            attach_command(root_args, engine),
            host=host,
            port=port,
            token=token,
            title=f"kraken-tui · engine {engine}",
            max_sessions=max_sessions,
        )
        return asyncio.run(_run(server, token, engine, out, err))
    except ServeError as failure:
        print(f"kraken-tui serve: {failure}", file=err)
        return failure.code


async def _engine_running(settings: Settings, engine_id: str | None) -> str:
    """The engine id to serve, once its heartbeat shows it is running: a console that could
    only say "no engine" in every tab is better refused at start."""
    redis_settings = settings.redis
    if not redis_settings.url:
        raise ServeError(EXIT_USAGE, "redis.url is not configured (KRAKEN_TUI_REDIS__URL)")
    try:
        keys = EngineKeys(
            redis_settings.key_prefix, check_engine_id(engine_id or redis_settings.engine_id)
        )
    except ValueError as exc:
        raise ServeError(EXIT_USAGE, str(exc)) from None
    redis = open_redis(redis_settings)
    try:
        beat = await read_heartbeat(redis, keys)
    except REDIS_FAILURES as exc:
        location = redis_location(redis_settings)
        raise ServeError(EXIT_RUNTIME_FAILURE, f"cannot reach Redis at {location}: {exc}") from None
    finally:
        await redis.aclose()
    if beat is None:
        raise ServeError(EXIT_USAGE, f"no engine {keys.engine_id!r} is running (no heartbeat)")
    return keys.engine_id


async def _run(server: GatedServer, token: str, engine: str, out: TextIO, err: TextIO) -> int:
    runner = web.AppRunner(
        await server.application(),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, server.host, server.port)
        try:
            await site.start()
        except OSError as exc:
            raise ServeError(
                EXIT_RUNTIME_FAILURE, f"cannot listen on {server.host}:{server.port}: {exc}"
            ) from None
        server.bind(_bound_port(runner))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if not _is_loopback(server.host):
            print(
                f"kraken-tui serve: WARNING: listening on {server.host}, beyond this machine, "
                "without TLS: anyone who sees the URL can trade on this engine. Prefer the "
                "loopback default behind an SSH tunnel.",
                file=err,
            )
        print(
            f"kraken-tui serve: engine {engine}'s console; each browser tab opens its own "
            "console on it. Ctrl+C stops.",
            file=err,
        )
        out.write(f"{server.public_url}/?token={token}\n")
        out.flush()
        await stop.wait()
    finally:
        await runner.cleanup()
    return EXIT_OK


def _bound_port(runner: web.AppRunner) -> int:
    address = runner.addresses[0]
    return int(address[1])


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    """A host a browser can reach: the machine's name for a wildcard bind, IPv6 bracketed."""
    if host in ("0.0.0.0", "::", ""):
        return socket.getfqdn()
    return f"[{host}]" if ":" in host else host


def _same_origin(request: web.Request) -> bool:
    """A browser always sends Origin on a WebSocket; it must be this server's own page."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == request.host
