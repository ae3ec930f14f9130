"""The sandbox exchange's network face: one aiohttp app on one loopback port serving Kraken's
REST (`/0/public/*`, `/0/private/*`), WebSocket v2 (`/v2`, `/auth/v2`) and the loopback-only
fault control endpoint (`/_sandbox/faults`).

The venue is synchronous; the server drives it from its event loop. A pacing task advances
the market simulation at the configured message rate and, after each step, flushes the
coalesced book/trade/ticker/ohlc updates, so subscribers see one book message per symbol and
depth per loop tick however many levels changed in it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web
from loguru import logger

from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET, Authenticator, AuthError
from kraken_tui.sandbox.errors import VenueError
from kraken_tui.sandbox.faults import DropTarget, FaultInjector, FaultRequestError
from kraken_tui.sandbox.order_gateway import OrderGateway
from kraken_tui.sandbox.ratelimits import REST_RATE_LIMIT, TRADING_REST_METHODS, RateLimiter, Tier
from kraken_tui.sandbox.rest_private import PrivateRest
from kraken_tui.sandbox.rest_public import PublicRest
from kraken_tui.sandbox.venue import SandboxVenue
from kraken_tui.sandbox.wire import dumps
from kraken_tui.sandbox.ws_private import PRIVATE_CHANNELS, PRIVATE_METHODS, PrivateChannels
from kraken_tui.sandbox.ws_public import (
    PUBLIC_CHANNELS,
    PublicChannels,
    WsConnection,
    WsRequestError,
    ws_ack,
)

API_VERSION = "v2"
SERVER_VERSION = "2.0.10"
FAULTS_PATH = "/_sandbox/faults"
INTERNAL_ERROR = "EGeneral:Internal error"
MIN_SLEEP_S = 0.001
"""Below this the pacer yields instead of sleeping: the loop's timer resolution is ~1 ms."""
MAX_IDLE_FLUSH_S = 0.005
"""Order activity between market steps still reaches subscribers within this delay."""


class MarketDriver(Protocol):
    """What the pacer needs from a market simulation: produce the events owed up to `now`
    (monotonic seconds) at its own configured rate; returns how many book events it made."""

    def step(self, now: float) -> int: ...


@runtime_checkable
class StreamingMarket(MarketDriver, Protocol):
    """A market fed from outside (the paper-mode mirror): it owns a connection to open and
    close with the server."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    rate: float = 200.0
    """Market book events per second (each is one book message per subscribed symbol when
    the loop keeps up; under load, events of one tick are coalesced into one message)."""
    state_path: Path | None = None
    extra_credentials: tuple[tuple[str, str], ...] = ()
    """(api_key, base64 secret) pairs accepted as extra funded accounts."""
    tier: Tier = Tier.STARTER
    rate_limits: bool = True
    faults: Mapping[str, object] = field(default_factory=dict)
    heartbeat_s: float = 1.0
    time_scale: float = 1.0
    """Venue time runs this many times faster than wall time (candles, order and trade
    timestamps, and the price process with them); the message rate stays in wall time."""
    mirror_url: str | None = None
    """Paper mode: mirror this Kraken WebSocket v2 feed (book and trades) instead of
    simulating a market; `rate` then only sets how often buffered feed frames are applied."""
    mirror_pairs: tuple[str, ...] = ("BTC/USD", "ETH/USD")
    replay_csv: Path | None = None
    """Replay this Kraken time-and-sales CSV as `replay_pair`'s market (other pairs stay
    synthetic), `replay_speed` times faster than it was recorded."""
    replay_pair: str = "BTC/USD"
    replay_speed: float = 1.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.time_scale) or self.time_scale <= 0:
            raise ValueError(f"time_scale must be a positive number, got {self.time_scale}")


def _json_or_form(body: str, content_type: str) -> dict[str, Any]:
    if not body:
        return {}
    if "json" in content_type:
        parsed = json.loads(body)
        if not isinstance(parsed, dict):
            raise ValueError("JSON body must be an object")
        return parsed
    return dict(parse_qsl(body, keep_blank_values=True))


def is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


class SandboxServer:
    """Owns the venue, market pacing and the network endpoints of one sandbox instance."""

    def __init__(
        self,
        config: SandboxConfig,
        venue: SandboxVenue,
        market: MarketDriver | None = None,
    ) -> None:
        self.config = config
        self.venue = venue
        self.market = market
        self.faults = FaultInjector()
        if config.faults:
            self.faults.apply(config.faults)
        self.limiter = RateLimiter(tier=config.tier, enabled=config.rate_limits)
        self.authenticator = Authenticator()
        self.gateway = OrderGateway(venue, self.limiter, self.faults)
        self.system_status = "online"
        self.public_rest = PublicRest(venue, lambda: self.system_status)
        self.private_rest = PrivateRest(venue, self.gateway, self.authenticator)
        self.public_ws = PublicChannels(venue, self.faults)
        self.private_ws = PrivateChannels(venue, self.gateway, self.authenticator)
        self._connections: set[WsConnection] = set()
        self._connection_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe_venue: Callable[[], None] | None = None
        self.port: int = config.port
        self.faults.on_drop(self._drop_connections)
        for api_key, secret in ((DEV_API_KEY, DEV_API_SECRET), *config.extra_credentials):
            self.authenticator.register(api_key, secret, api_key)
            venue.open_account(api_key)
        self.app = self._build_app()

    # ---- lifecycle ---------------------------------------------------------------------
    @property
    def rest_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}"

    @property
    def ws_auth_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/auth"

    async def start(self) -> None:
        """Bind (port 0 picks a free one; `self.port` then holds it) and start pacing."""
        self._unsubscribe_venue = self.venue.subscribe(self._on_venue_event)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        if isinstance(self.market, StreamingMarket):
            await self.market.start()
        self._tasks = [
            asyncio.create_task(self._pace(), name="sandbox-pacer"),
            asyncio.create_task(self._heartbeat(), name="sandbox-heartbeat"),
        ]
        logger.info("sandbox listening on {}", self.rest_url)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if isinstance(self.market, StreamingMarket):
            await self.market.stop()
        for conn in list(self._connections):
            await conn.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._unsubscribe_venue is not None:
            self._unsubscribe_venue()
            self._unsubscribe_venue = None

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/0/public/{method}", self._public_rest)
        app.router.add_post("/0/private/{method}", self._private_rest)
        app.router.add_get("/v2", self._public_socket)
        app.router.add_get("/auth/v2", self._private_socket)
        app.router.add_get(FAULTS_PATH, self._faults_get)
        app.router.add_post(FAULTS_PATH, self._faults_post)
        return app

    # ---- pacing --------------------------------------------------------------------------
    async def _pace(self) -> None:
        """Step the market about once per due book event (yielding, not sleeping, when that
        is under the loop's timer resolution), then flush what changed; everything the
        market produced within one iteration goes out as one message per group."""
        rate = self.config.rate
        interval = min(1.0 / rate, MAX_IDLE_FLUSH_S) if rate > 0 else MAX_IDLE_FLUSH_S
        while True:
            if self.market is not None:
                try:
                    self.market.step(time.monotonic())
                except Exception:
                    # Logged once, not at the pacing rate; the exchange keeps serving users.
                    logger.exception("sandbox market simulation failed; it is stopped")
                    self.market = None
            self.venue.tick()
            self.public_ws.flush()
            await asyncio.sleep(interval if interval >= MIN_SLEEP_S else 0)

    async def _heartbeat(self) -> None:
        message = dumps({"channel": "heartbeat"})
        while True:
            await asyncio.sleep(self.config.heartbeat_s)
            for conn in list(self._connections):
                if conn.has_subscription:
                    conn.send(message)

    def _on_venue_event(self, event: Any) -> None:
        self.public_ws.on_venue_event(event)
        self.private_ws.on_venue_event(event)

    # ---- REST ---------------------------------------------------------------------------------
    async def _faulted_response(self) -> web.Response | None:
        stall = self.faults.stall_remaining()
        if stall > 0:
            await asyncio.sleep(stall)
        status = self.faults.take_rest_5xx()
        if status is not None:
            return web.Response(status=status, text=f"{status} Service Unavailable (injected)")
        return None

    @staticmethod
    def _envelope(result: Any = None, error: str | None = None) -> web.Response:
        body = {"error": [error]} if error is not None else {"error": [], "result": result}
        return web.Response(text=dumps(body), content_type="application/json")

    async def _public_rest(self, request: web.Request) -> web.Response:
        faulted = await self._faulted_response()
        if faulted is not None:
            return faulted
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            try:
                params.update(_json_or_form(await request.text(), request.content_type))
            except ValueError:
                return self._envelope(error="EGeneral:Invalid arguments")
        try:
            return self._envelope(self.public_rest.handle(request.match_info["method"], params))
        except VenueError as exc:
            return self._envelope(error=exc.error)
        except Exception:
            logger.exception("sandbox REST {} failed", request.path)
            return self._envelope(error=INTERNAL_ERROR)

    async def _private_rest(self, request: web.Request) -> web.Response:
        faulted = await self._faulted_response()
        if faulted is not None:
            return faulted
        method = request.match_info["method"]
        body = await request.text()
        try:
            params = _json_or_form(body, request.content_type)
        except ValueError:
            return self._envelope(error="EGeneral:Invalid arguments")
        nonce = params.get("nonce")
        api_key = request.headers.get("API-Key")
        try:
            account = self.authenticator.verify(
                api_key,
                request.headers.get("API-Sign"),
                request.path,
                None if nonce is None else str(nonce),
                body,
            )
        except AuthError as exc:
            return self._envelope(error=exc.kraken_error)
        if not self.private_rest.knows(method):
            return self._envelope(error="EGeneral:Unknown method")
        if method not in TRADING_REST_METHODS:
            if self.faults.take_rate_limit():
                return self._envelope(error=REST_RATE_LIMIT)
            limited = self.limiter.charge_rest_call(api_key or "", method)
            if limited is not None:
                return self._envelope(error=limited)
        try:
            return self._envelope(self.private_rest.handle(account, method, params))
        except VenueError as exc:
            return self._envelope(error=exc.error)
        except Exception:
            logger.exception("sandbox REST {} failed", request.path)
            return self._envelope(error=INTERNAL_ERROR)

    # ---- fault control -----------------------------------------------------------------------
    async def _faults_get(self, request: web.Request) -> web.Response:
        if not is_loopback(request.remote):
            raise web.HTTPForbidden(text="fault control is loopback-only")
        return web.json_response(self.faults.state())

    async def _faults_post(self, request: web.Request) -> web.Response:
        if not is_loopback(request.remote):
            raise web.HTTPForbidden(text="fault control is loopback-only")
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise FaultRequestError("body must be a JSON object")
            state = self.faults.apply(changes)
        except (FaultRequestError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        logger.info("sandbox faults set: {}", changes)
        return web.json_response(state)

    def _drop_connections(self, target: DropTarget) -> int:
        doomed = [
            conn
            for conn in self._connections
            if target is DropTarget.ALL
            or (target is DropTarget.PRIVATE) == conn.authenticated_endpoint
        ]
        for conn in doomed:
            asyncio.get_running_loop().create_task(conn.close())
        return len(doomed)

    # ---- WebSocket ------------------------------------------------------------------------------
    async def _public_socket(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve_socket(request, authenticated_endpoint=False)

    async def _private_socket(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve_socket(request, authenticated_endpoint=True)

    async def _serve_socket(
        self, request: web.Request, *, authenticated_endpoint: bool
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = WsConnection(
            ws=ws,
            connection_id=next(self._connection_ids),
            authenticated_endpoint=authenticated_endpoint,
            faults=self.faults,
        )
        conn.start()
        self._connections.add(conn)
        conn.send(self._status_message(conn))
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                self._on_ws_text(conn, message.data)
        finally:
            self._connections.discard(conn)
            self.public_ws.drop(conn)
            self.private_ws.drop(conn)
            await conn.stop()
        return ws

    def _status_message(self, conn: WsConnection) -> dict[str, Any]:
        return {
            "channel": "status",
            "type": "update",
            "data": [
                {
                    "api_version": API_VERSION,
                    "connection_id": conn.connection_id,
                    "system": self.system_status,
                    "version": SERVER_VERSION,
                }
            ],
        }

    def _on_ws_text(self, conn: WsConnection, text: str) -> None:
        time_in = time.time()
        try:
            request = json.loads(text)
        except ValueError:
            conn.send({"error": "Malformed request", "success": False})
            return
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            conn.send(ws_ack("", time_in, None, error="Malformed request"))
            return
        method: str = request["method"]
        req_id = request.get("req_id")
        params = request.get("params") or {}
        try:
            if not isinstance(params, dict):
                raise WsRequestError("Malformed request")
            self._dispatch_ws(conn, method, params, time_in, req_id)
        except WsRequestError as exc:
            conn.send(ws_ack(method, time_in, req_id, error=exc.message, extra=exc.extra))
        except VenueError as exc:
            conn.send(ws_ack(method, time_in, req_id, error=exc.error))
        except Exception:
            logger.exception("sandbox WS {} failed", method)
            conn.send(ws_ack(method, time_in, req_id, error=INTERNAL_ERROR))

    def _dispatch_ws(
        self,
        conn: WsConnection,
        method: str,
        params: Mapping[str, Any],
        time_in: float,
        req_id: object,
    ) -> None:
        if method == "ping":
            pong = ws_ack("pong", time_in, req_id)
            del pong["result"], pong["success"]
            conn.send(pong)
            return
        if method in ("subscribe", "unsubscribe"):
            channel = params.get("channel")
            subscribing = method == "subscribe"
            if channel in PUBLIC_CHANNELS:
                target: Any = self.public_ws
            elif channel in PRIVATE_CHANNELS:
                target = self.private_ws
            else:
                raise WsRequestError(f"Channel {channel} not supported")
            handler = target.subscribe if subscribing else target.unsubscribe
            handler(conn, str(channel), params, time_in, req_id)
            return
        if method in PRIVATE_METHODS:
            self.private_ws.handle(conn, method, params, time_in, req_id)
            return
        raise WsRequestError(f"Method {method} not supported")
