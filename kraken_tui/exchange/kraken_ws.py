"""Supervision of one python-kraken-sdk WebSocket v2 connection (public or authenticated).

The SDK reconnects and resubscribes by itself, but gives up after seven attempts and does not
tell its caller that a reconnect happened. This wrapper adds what a trading process needs:
a connection state with a reason, the measured round-trip latency, a "reconnected" signal
(Kraken sends a `status` message on every new connection) so books are rebuilt and fills are
reconciled, a silence watchdog, and a restart with exponential backoff and jitter when the
SDK has given up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kraken.spot import SpotWSClient
from kraken.utils.utils import WSState
from loguru import logger

from kraken_tui.domain import ConnectionState
from kraken_tui.exchange.protocol import ConnectionStatus
from kraken_tui.exchange.traffic import TrafficSink

MessageHandler = Callable[[Mapping[str, Any]], None]
TokenSource = Callable[[], Awaitable[dict[str, Any]]]

PING_INTERVAL_S = 5.0
_UP_STATES = frozenset({ConnectionState.CONNECTED, ConnectionState.STALE, ConnectionState.DEGRADED})
SILENCE_LIMIT_S = 10.0
_PING_IDS = itertools.count(1_000_000)


class _SdkClient(SpotWSClient):
    """The unmodified SDK client, with its messages routed to us and its WebSocket token
    fetched through our REST client (our nonce, our rate limiter)."""

    def __init__(
        self,
        on_message: Callable[[dict[str, Any]], None],
        token_source: TokenSource | None,
        **kwargs: Any,
    ) -> None:
        self._route = on_message
        self._token_source = token_source
        self._sdk_tasks: set[asyncio.Task[Any]] = set()
        super().__init__(**kwargs)
        _SDK_LOG.addFilter(_ONE_LINE_SDK_RECORDS)
        for connection in (self._pub_conn, self._priv_conn):
            if connection is not None:
                _connect_first_time_at_once(connection)
                for step in _SDK_TASK_STEPS:
                    _retrieve_outcome_of_tasks_running(connection, step, self._sdk_tasks)

    async def on_message(self, message: dict[str, Any]) -> None:  # type: ignore[override]  # v2 sends objects; lists were v1
        self._route(message)

    async def get_ws_token(self) -> dict[str, Any]:
        if self._token_source is None:
            return await super().get_ws_token()
        return await self._token_source()

    def sockets_connected(self) -> bool:
        """True while every connection of this client is up (the SDK's own state)."""
        return all(
            connection.state is WSState.CONNECTED
            for connection in (self._pub_conn, self._priv_conn)
            if connection is not None
        )

    async def close(self) -> None:
        """The SDK's close waits for its reader to notice `keep_alive`, and the reader polls
        the socket with a 10 s timeout: on a quiet feed, ten seconds per connection. A ping
        makes the exchange answer, so the reader wakes, sees it must stop and exits cleanly
        (closing the socket instead would be logged by the SDK as a failure)."""
        for connection in (self._pub_conn, self._priv_conn):
            if connection is not None and getattr(connection, "socket", None) is not None:
                connection.keep_alive = False
                with contextlib.suppress(Exception):
                    await connection.send_ping()
        await super().close()
        await _cancel_leftovers(self._sdk_tasks)


_SDK_BACKOFF = "_ConnectSpotWebsocketBase__get_reconnect_wait"


def _connect_first_time_at_once(connection: Any) -> None:
    """The SDK sleeps its reconnect back-off (1-2 s) before the very first connection too, so
    every start waited up to 4 s for the public and private feeds. The first connection goes
    at once; every reconnect after a drop keeps the SDK's back-off."""
    backoff: Callable[[int], float] = getattr(connection, _SDK_BACKOFF)
    first = True

    def wait_s(attempts: int) -> float:
        nonlocal first
        if first:
            first = False
            return 0.0
        return backoff(attempts)

    setattr(connection, _SDK_BACKOFF, wait_s)


_SDK_TASK_STEPS = ("_ConnectSpotWebsocketBase__run", "_recover_subscriptions")
"""The two coroutines the SDK's reconnect loop runs as tasks for each (re)connection."""


def _retrieve_outcome_of_tasks_running(
    connection: Any, step_name: str, tasks: set[asyncio.Task[Any]]
) -> None:
    """The SDK's reconnect loop starts its reader and its subscription recovery as tasks and
    reads their exceptions only while it is still waiting on them: when the connection drops
    during a recovery, or `close` ends the loop while a reconnect is under way, the task that
    fails last is never looked at, and asyncio logs "Task exception was never retrieved" with
    a traceback. Wrapping the step on this connection only (never the SDK's class or module)
    lets every such task register itself, so its outcome is always retrieved (logged on one
    line) and `_SdkClient.close` can cancel the ones still running. The SDK still sees each
    exception first, so its own recovery is unchanged."""
    step: Callable[[asyncio.Event], Awaitable[None]] = getattr(connection, step_name)

    async def tracked(event: asyncio.Event) -> None:
        task = asyncio.current_task()
        if task is not None:
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            task.add_done_callback(_log_outcome)
        await step(event)

    setattr(connection, step_name, tracked)


def _log_outcome(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.debug("SDK WebSocket task {} ended: {!r}", task.get_name(), exc)


async def _cancel_leftovers(tasks: set[asyncio.Task[Any]]) -> None:
    """Tasks the SDK started for a reconnect its closed loop no longer waits for."""
    leftovers = [task for task in tasks if not task.done()]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


class _OneLineRecords(logging.Filter):
    """The SDK logs a failed connection task with the task's stack frames, and a cancelled
    reader with a traceback: several lines per event, for failures it recovers from itself.
    Each record keeps its first line (which names the task and the exception) and its level.
    A filter on the SDK's logger is the stdlib's own way to shape a library's records."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "\n" in message or record.exc_info is not None or record.stack_info is not None:
            first_line = message.split("\n", 1)[0].rstrip(":")
            if record.exc_info is not None and record.exc_info[1] is not None:
                first_line = f"{first_line}: {record.exc_info[1]!r}"
            record.msg, record.args = first_line, None
            record.exc_info = record.exc_text = record.stack_info = None
        return True


_SDK_LOG = logging.getLogger("kraken.spot.websocket.connectors")
_ONE_LINE_SDK_RECORDS = _OneLineRecords()


class WsFeed:
    def __init__(
        self,
        name: str,
        *,
        ws_url: str,
        auth_ws_url: str,
        on_message: MessageHandler,
        on_status: Callable[[ConnectionStatus], None],
        on_reconnect: Callable[[], None],
        private: bool = False,
        api_key: str = "",
        api_secret: str = "",
        rest_url: str | None = None,
        token_source: TokenSource | None = None,
    ) -> None:
        self.name = name
        self._ws_url = ws_url
        self._auth_ws_url = auth_ws_url
        self._on_message = on_message
        self._on_status = on_status
        self._on_reconnect = on_reconnect
        self._private = private
        self._api_key = api_key
        self._api_secret = api_secret
        self._rest_url = rest_url
        self._token_source = token_source
        self._subscriptions: list[dict[str, Any]] = []
        self._sent_on_client: set[int] = set()
        """Indexes into `_subscriptions` already sent on the current client: the replay after
        a (re)start skips them, or a subscription made while the client was starting would go
        out twice and the exchange would answer "Already subscribed"."""
        self._client: _SdkClient | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._connections = 0
        self._last_message = time.monotonic()
        self._pending_pings: dict[int, float] = {}
        self._latency_ms: float | None = None
        self._status = ConnectionStatus(ConnectionState.DISCONNECTED, "not started")
        self._closing = False
        self._connected = asyncio.Event()
        self.traffic_sink: TrafficSink | None = None
        """Given every message received while the flight recorder is on."""

    @property
    def status(self) -> ConnectionStatus:
        return self._status

    @property
    def latency_ms(self) -> float | None:
        return self._latency_ms

    async def start(self, timeout_s: float = 15.0) -> None:
        self._closing = False
        self._supervisor = asyncio.create_task(self._supervise(), name=f"ws-{self.name}")
        try:
            async with asyncio.timeout(timeout_s):
                await self._connected.wait()
        except TimeoutError:
            logger.warning(
                "{} WebSocket not connected after {:.0f}s; retrying in background",
                self.name,
                timeout_s,
            )

    async def close(self) -> None:
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        await self._stop_client()
        self._set_status(ConnectionState.DISCONNECTED, "closed")

    async def subscribe(self, params: dict[str, Any]) -> None:
        """Remember the subscription (replayed after our own restarts) and send it."""
        self._subscriptions.append(dict(params))
        await self._subscribe_once(len(self._subscriptions) - 1)

    async def resubscribe(self, params: dict[str, Any]) -> None:
        """Unsubscribe and subscribe again: Kraken's way of getting a fresh book snapshot."""
        unsubscribe = {k: v for k, v in params.items() if k != "snapshot"}
        await self._send_subscription("unsubscribe", unsubscribe)
        await self._send_subscription("subscribe", params)

    async def send(self, message: dict[str, Any]) -> None:
        if self._client is None:
            raise ConnectionError(f"{self.name} WebSocket is not connected")
        await self._client.send_message(message)

    async def _subscribe_once(self, index: int) -> None:
        if index in self._sent_on_client:
            return
        self._sent_on_client.add(index)
        if not await self._send_subscription("subscribe", self._subscriptions[index]):
            self._sent_on_client.discard(index)

    async def _send_subscription(self, method: str, params: dict[str, Any]) -> bool:
        """True when the SDK took it; a failure is logged and the next replay sends it."""
        if self._client is None:
            return False
        try:
            if method == "subscribe":
                await self._client.subscribe(params=params)
            else:
                await self._client.unsubscribe(params=params)
        except (ConnectionError, TimeoutError, AttributeError) as exc:
            logger.warning("{} {} {} failed: {}", self.name, method, params.get("channel"), exc)
            return False
        return True

    async def _supervise(self) -> None:
        attempt = 0
        while not self._closing:
            self._set_status(
                ConnectionState.CONNECTING if attempt == 0 else ConnectionState.RECONNECTING,
                "connecting",
            )
            try:
                await self._start_client()
                for index in range(len(self._subscriptions)):
                    await self._subscribe_once(index)
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the SDK raises bare Exceptions on connect failures
                logger.warning("{} WebSocket failed: {}", self.name, exc)
            await self._stop_client()
            if self._closing:
                return
            attempt += 1
            delay = random.uniform(0.5, min(30.0, 2.0**attempt))
            self._set_status(
                ConnectionState.RECONNECTING, f"restarting in {delay:.1f}s (attempt {attempt})"
            )
            await asyncio.sleep(delay)

    async def _start_client(self) -> None:
        kwargs: dict[str, Any] = {
            "ws_url": self._ws_url,
            "auth_ws_url": self._auth_ws_url,
            "rest_url": self._rest_url,
        }
        if self._private:
            kwargs |= {"key": self._api_key, "secret": self._api_secret, "no_public": True}
        self._client = _SdkClient(self._dispatch, self._token_source, **kwargs)
        await self._client.start()

    async def _stop_client(self) -> None:
        self._sent_on_client = set()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()

    async def _watch(self) -> None:
        """Ping for latency, watch for silence; return when the SDK has given up."""
        assert self._client is not None
        while not self._closing:
            await asyncio.sleep(PING_INTERVAL_S / 5)
            if self._client.exception_occur:
                raise ConnectionError("the SDK gave up reconnecting")
            if self._status.state in _UP_STATES and not self._client.sockets_connected():
                # The SDK reconnects on its own and says nothing until the new connection's
                # `status`: without this a dropped feed could look CONNECTED throughout.
                self._set_status(ConnectionState.RECONNECTING, "connection dropped; reconnecting")
            silent_for = time.monotonic() - self._last_message
            if silent_for > SILENCE_LIMIT_S and self._status.state is ConnectionState.CONNECTED:
                self._set_status(ConnectionState.STALE, f"no message for {silent_for:.0f}s")
            if self._due_ping():
                await self._ping()

    def _due_ping(self) -> bool:
        newest = max(self._pending_pings.values(), default=0.0)
        return time.monotonic() - newest >= PING_INTERVAL_S

    async def _ping(self) -> None:
        req_id = next(_PING_IDS)
        self._pending_pings = {
            k: v for k, v in self._pending_pings.items() if time.monotonic() - v < 60
        }
        self._pending_pings[req_id] = time.monotonic()
        try:
            await self.send({"method": "ping", "req_id": req_id})
        except (ConnectionError, TimeoutError, AttributeError) as exc:
            logger.debug("{} ping not sent: {}", self.name, exc)

    def _dispatch(self, message: dict[str, Any]) -> None:
        self._last_message = time.monotonic()
        if not isinstance(message, dict):
            logger.warning("{} WebSocket: ignoring non-object message {!r}", self.name, message)
            return
        if self.traffic_sink is not None:
            self.traffic_sink.ws_message(self.name, message)
        if message.get("method") == "pong":
            sent = self._pending_pings.pop(message.get("req_id", -1), None)
            if sent is not None:
                self._latency_ms = (time.monotonic() - sent) * 1000
                self._set_status(ConnectionState.CONNECTED, "", force=False)
            return
        if message.get("channel") == "status":
            self._on_connected()
        elif self._status.state is ConnectionState.STALE:
            self._set_status(ConnectionState.CONNECTED, "")
        if "python-kraken-sdk" in message:
            logger.warning("{} WebSocket: SDK reports {}", self.name, message["python-kraken-sdk"])
            return
        try:
            self._on_message(message)
        except Exception:
            logger.opt(exception=True).error(
                "{} WebSocket: handler failed on a {} message; skipped",
                self.name,
                message.get("channel") or message.get("method"),
            )

    def _on_connected(self) -> None:
        self._connections += 1
        self._set_status(ConnectionState.CONNECTED, "")
        self._connected.set()
        if self._connections > 1:
            logger.warning(
                "{} WebSocket reconnected (connection #{})", self.name, self._connections
            )
            self._on_reconnect()

    def _set_status(self, state: ConnectionState, reason: str, *, force: bool = True) -> None:
        if not force and self._status.state is state:
            status = ConnectionStatus(
                state, self._status.reason, self._latency_ms, self._status.since
            )
        else:
            since = self._status.since if state is self._status.state else datetime.now(UTC)
            status = ConnectionStatus(state, reason, self._latency_ms, since)
        if status != self._status:
            self._status = status
            self._on_status(status)
