"""Remote control over Redis pub/sub, authenticated by a shared secret.

Anyone who can read the cache can see the engine; only someone holding ``redis.command_secret``
can steer it. A request is signed (`signing.Signer`, purpose ``command``) over everything that
decides what it does: the engine it is for (key prefix and engine id, which also name the
channel), protocol version, command, arguments, timestamp, nonce and the reply channel. A
request captured on one engine's channel is therefore refused by any other engine or
deployment sharing the Redis. The engine-side `CommandServer` checks, in order: the size, the
version, the signature, the timestamp (within `FRESHNESS_S` of its own clock), that the nonce
was never seen (in memory and, across engine restarts, with ``SET NX`` in Redis), then
acknowledges, executes through `EngineApi` and publishes the result. Acknowledgements and
results are signed the same way, so a client believes no forged success; a refusal is sent
unsigned (the sender may hold the wrong secret and could not check it), which can at worst
make a client report a refusal. Every message written back or shown is cut to
`MAX_REPLY_CHARS` printable characters, so a hostile request cannot make the engine publish,
or an operator's terminal print, text of its choosing at any length.

Pub/sub rather than a list: a command sent while no engine listens is reported at once
(``PUBLISH`` reaches no subscriber) instead of queuing and executing minutes later.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import orjson
from loguru import logger
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from kraken_tui.cache.background import POLL_S, StopSignal, finish
from kraken_tui.cache.codec import decoder_for, encode
from kraken_tui.cache.connection import REDIS_FAILURES, open_redis
from kraken_tui.cache.keys import EngineKeys
from kraken_tui.cache.outage import Outage
from kraken_tui.cache.signing import Purpose, Signer
from kraken_tui.engine.api import CommandResult, EngineApi, ManualOrder
from kraken_tui.settings import RedisSettings

PROTOCOL_VERSION = 2
"""Version 2 binds signatures to the key prefix and engine id; version 1 requests are refused."""
FRESHNESS_S = 30.0
MAX_IN_FLIGHT = 16
MAX_REQUEST_BYTES = 64 * 1024
MAX_REPLY_CHARS = 500
_QUOTED_CHARS = 40
_TOKEN = re.compile(r"^[0-9a-f]{16,64}$")


class Command(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    PAUSE_ALL = "pause_all"
    RESUME_ALL = "resume_all"
    KILL_SWITCH = "kill_switch"
    RESET_KILL_SWITCH = "reset_kill_switch"
    CANCEL_ALL = "cancel_all"
    CANCEL_ORDER = "cancel_order"
    SUBMIT_MANUAL_ORDER = "submit_manual_order"
    AMEND_ORDER = "amend_order"


class Outcome(StrEnum):
    """What a reply says happened. `ACCEPTED` is the acknowledgement sent before executing."""

    ACCEPTED = "accepted"
    OK = "ok"
    FAILED = "failed"
    UNKNOWN_STRATEGY = "unknown_strategy"
    ERROR = "error"
    REFUSED = "refused"


class RemoteCommandError(Exception):
    """A command got no usable answer; the message is fit to show an operator."""


class CommandTimeout(RemoteCommandError):
    pass


class EngineNotListening(RemoteCommandError):
    """No command server is subscribed: the engine is down or has remote control disabled."""


def bounded(text: str, limit: int = MAX_REPLY_CHARS) -> str:
    """`text` cut to `limit` characters, control characters (terminal escapes, newlines)
    replaced: what is published back or printed never exceeds a known size or rewrites a
    terminal."""
    head = "".join(c if c.isprintable() else "?" for c in text[: limit + 1])
    return head if len(head) <= limit else head[: limit - 1] + "…"


def _quoted(value: object) -> str:
    """A value from an untrusted request, as a refusal quotes it."""
    return bounded(repr(value)[: _QUOTED_CHARS + 1], _QUOTED_CHARS)


def command_request(
    command: Command,
    args: Mapping[str, Any],
    *,
    signer: Signer,
    reply_id: str,
    now_s: float | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """A request signed for the engine `signer` stands for, ready to publish on its channel."""
    fields: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "command": command.value,
        "args": dict(args),
        "ts_ms": int((time.time() if now_s is None else now_s) * 1000),
        "nonce": nonce or secrets.token_hex(16),
        "reply_id": reply_id,
    }
    fields["sig"] = signer.sign_object(Purpose.COMMAND, fields)
    return fields


def _result_fields(result: CommandResult) -> dict[str, Any]:
    return {"ok": result.ok, "message": bounded(result.message), "detail": dict(result.detail)}


def manual_order_args(order: ManualOrder) -> dict[str, Any]:
    """Arguments of `Command.SUBMIT_MANUAL_ORDER` (Decimals as strings, so signing is exact)."""
    return {"order": orjson.loads(encode(order))}


def amend_args(cl_ord_id: str, price: Decimal | None, volume: Decimal | None) -> dict[str, Any]:
    """Arguments of `Command.AMEND_ORDER` (Decimals as strings, so signing is exact)."""
    return {
        "cl_ord_id": cl_ord_id,
        "price": None if price is None else str(price),
        "volume": None if volume is None else str(volume),
    }


class BadArguments(ValueError):
    """A signed request whose arguments cannot mean anything; refused before the engine."""


def _decimal_arg(args: Mapping[str, Any], name: str) -> Decimal | None:
    value = args.get(name)
    if value is None:
        return None
    try:
        number = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number <= 0:
        raise BadArguments(f"{name} {_quoted(value)} is not a positive number")
    return number


@dataclass(frozen=True, slots=True)
class CommandReply:
    """The final answer to one request, with how long each stage took."""

    outcome: Outcome
    result: CommandResult
    acknowledged: bool
    ack_ms: float | None = None
    total_ms: float = 0.0


# -- engine side --------------------------------------------------------------------------------


class CommandServer:
    """Executes verified remote commands on an `EngineApi`. Runs as one background task with
    its own pub/sub connection; a lost Redis is retried with backoff and never touches the
    engine. Each command runs in its own task, so a slow order does not delay a kill switch.
    Without a command secret it does not subscribe at all."""

    def __init__(
        self,
        engine: EngineApi,
        settings: RedisSettings,
        engine_id: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        freshness_s: float = FRESHNESS_S,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.keys = EngineKeys(settings.key_prefix, engine_id or settings.engine_id)
        self._signer = (
            Signer(settings.command_secret.get_secret_value(), self.keys)
            if settings.command_secret
            else None
        )
        self._clock = clock
        self._freshness_s = freshness_s
        self._seen: dict[str, float] = {}
        self._redis: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = StopSignal()
        self._pubsub: PubSub | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._outage = Outage(f"command server {self.keys.engine_id}")
        self.listening = asyncio.Event()
        self.executed = 0
        self.refused = 0

    @property
    def enabled(self) -> bool:
        return self._signer is not None and bool(self.settings.url)

    async def start(self) -> None:
        if not self.settings.url:
            return
        if self._signer is None:
            logger.info(
                "remote control disabled for engine {}: no redis.command_secret configured",
                self.keys.engine_id,
            )
            return
        self._redis = open_redis(self.settings, socket_timeout_s=None)
        self._task = asyncio.create_task(self._serve(), name="redis command server")
        logger.info("remote control enabled on {}", self.keys.commands)

    async def stop(self) -> None:
        """Stops listening; commands already executing are let finish (a half-done kill
        switch is worse than a slow shutdown)."""
        pubsub = self._pubsub
        await finish(self._task, self._stop, wake=pubsub.unsubscribe if pubsub else None)
        if self._running:
            await asyncio.wait(set(self._running), timeout=10)
        if self._redis is not None:
            await self._redis.aclose()
        self._task = None

    async def _serve(self) -> None:
        assert self._redis is not None
        while not self._stop.is_set:
            pubsub: PubSub = self._redis.pubsub()
            self._pubsub = pubsub
            try:
                await pubsub.subscribe(self.keys.commands)
                while not self._stop.is_set:
                    message = await pubsub.get_message(timeout=POLL_S)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._outage.recovered()
                        self.listening.set()
                    elif message["type"] == "message":
                        self._receive(message["data"])
            except REDIS_FAILURES as exc:
                self.listening.clear()
                await self._stop.sleep(self._outage.failed(exc))
            finally:
                await pubsub.aclose()

    def _receive(self, payload: bytes) -> None:
        if len(payload) > MAX_REQUEST_BYTES:
            self.refused += 1
            logger.warning("remote command refused: request of {} bytes", len(payload))
            return
        try:
            request = orjson.loads(payload)
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            self.refused += 1
            logger.warning("remote command refused: malformed request ({} bytes)", len(payload))
            return
        reply_id = request.get("reply_id")
        reply_to = (
            self.keys.reply(reply_id)
            if isinstance(reply_id, str) and _TOKEN.match(reply_id)
            else None
        )
        refusal = self._refusal(request)
        if refusal is not None:
            self.refused += 1
            logger.warning(
                "remote command {} refused: {}", _quoted(request.get("command")), refusal
            )
            if reply_to is not None:
                self._spawn(self._refuse(reply_to, request.get("nonce"), refusal))
            return
        assert reply_to is not None
        if len(self._running) >= MAX_IN_FLIGHT:
            self._spawn(
                self._refuse(reply_to, request["nonce"], "busy: too many commands in flight")
            )
            return
        self._spawn(self._execute(reply_to, request))

    def _refusal(self, request: dict[str, Any]) -> str | None:
        assert self._signer is not None
        if request.get("v") != PROTOCOL_VERSION:
            return f"unsupported request version {_quoted(request.get('v'))}"
        if not self._signer.object_valid(Purpose.COMMAND, request):
            return "bad signature"
        nonce, ts_ms = request.get("nonce"), request.get("ts_ms")
        reply_id = request.get("reply_id")
        if not isinstance(nonce, str) or not _TOKEN.match(nonce):
            return "bad nonce"
        if not isinstance(reply_id, str) or not _TOKEN.match(reply_id):
            return "bad reply id"
        if not isinstance(ts_ms, int):
            return "bad timestamp"
        now = self._clock()
        if abs(now - ts_ms / 1000) > self._freshness_s:
            return f"stale: timestamp {abs(now - ts_ms / 1000):.0f} s from the engine's clock"
        self._forget_old_nonces(now)
        if nonce in self._seen:
            return "replayed command"
        self._seen[nonce] = now
        if request.get("command") not in Command.__members__.values():
            return f"unknown command {_quoted(request.get('command'))}"
        if not isinstance(request.get("args"), dict):
            return "bad arguments"
        return None

    def _forget_old_nonces(self, now: float) -> None:
        """A nonce older than twice the freshness window can no longer pass the timestamp
        check, so it need not be remembered."""
        horizon = now - 2 * self._freshness_s
        if self._seen and next(iter(self._seen.values())) < horizon:
            self._seen = {n: t for n, t in self._seen.items() if t >= horizon}

    async def _execute(self, reply_to: str, request: dict[str, Any]) -> None:
        assert self._redis is not None
        nonce = request["nonce"]
        command = Command(request["command"])
        try:
            first_use = await self._redis.set(
                self.keys.nonce(nonce), b"1", nx=True, ex=int(4 * self._freshness_s)
            )
        except REDIS_FAILURES as exc:
            logger.warning("remote command {} dropped: Redis failed ({})", command, exc)
            return
        if not first_use:
            self.refused += 1
            logger.warning("remote command {} refused: replayed command", command)
            await self._refuse(reply_to, nonce, "replayed command")
            return
        await self._reply(reply_to, nonce, Outcome.ACCEPTED, None)
        logger.info("remote command {} {}", command, _describe_args(request["args"]))
        outcome, result = await self._run(command, request["args"])
        self.executed += 1
        await self._reply(reply_to, nonce, outcome, result)

    async def _run(self, command: Command, args: dict[str, Any]) -> tuple[Outcome, CommandResult]:
        engine = self.engine
        try:
            if command in (Command.PAUSE, Command.RESUME):
                name = str(args.get("strategy", ""))
                known = {s.name for s in engine.snapshot().strategies}
                if name not in known:
                    listed = ", ".join(sorted(known)) or "none"
                    return Outcome.UNKNOWN_STRATEGY, CommandResult(
                        False, f"no strategy named {name!r} (strategies: {listed})"
                    )
                action = engine.pause if command is Command.PAUSE else engine.resume
                result = await action(name)
            else:
                result = await self._dispatch(command, args)
        except Exception as exc:
            logger.exception("remote command {} failed", command)
            return Outcome.ERROR, CommandResult(False, f"{type(exc).__name__}: {exc}")
        return (Outcome.OK if result.ok else Outcome.FAILED), result

    async def _dispatch(self, command: Command, args: dict[str, Any]) -> CommandResult:
        engine = self.engine
        simple: dict[Command, Callable[[], Awaitable[CommandResult]]] = {
            Command.PAUSE_ALL: engine.pause_all,
            Command.RESUME_ALL: engine.resume_all,
            Command.RESET_KILL_SWITCH: engine.reset_kill_switch,
            Command.CANCEL_ALL: engine.cancel_all,
        }
        if command in simple:
            return await simple[command]()
        if command is Command.KILL_SWITCH:
            return await engine.kill_switch(str(args.get("reason") or "remote"))
        if command is Command.CANCEL_ORDER:
            return await engine.cancel_order(str(args["cl_ord_id"]))
        if command is Command.AMEND_ORDER:
            try:
                price, volume = _decimal_arg(args, "price"), _decimal_arg(args, "volume")
            except BadArguments as exc:
                return CommandResult(False, f"amend refused: {exc}")
            return await engine.amend_order(str(args["cl_ord_id"]), price=price, volume=volume)
        order = decoder_for(ManualOrder)(args["order"])
        return await engine.submit_manual_order(order)

    async def _reply(
        self, reply_to: str, nonce: str, outcome: Outcome, result: CommandResult | None
    ) -> None:
        assert self._redis is not None and self._signer is not None
        fields: dict[str, Any] = {
            "v": PROTOCOL_VERSION,
            "nonce": nonce,
            "outcome": outcome.value,
            "result": None if result is None else _result_fields(result),
        }
        fields["sig"] = self._signer.sign_object(Purpose.REPLY, fields)
        try:
            await self._redis.publish(reply_to, orjson.dumps(fields))
        except REDIS_FAILURES as exc:
            logger.warning("reply to remote command lost: Redis failed ({})", exc)

    async def _refuse(self, reply_to: str, nonce: object, reason: str) -> None:
        assert self._redis is not None
        fields = {
            "v": PROTOCOL_VERSION,
            "nonce": nonce if isinstance(nonce, str) else None,
            "outcome": Outcome.REFUSED.value,
            "result": {"ok": False, "message": bounded(f"refused: {reason}"), "detail": {}},
        }
        try:
            await self._redis.publish(reply_to, orjson.dumps(fields))
        except REDIS_FAILURES as exc:
            logger.debug("refusal not delivered: {}", exc)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)


def _describe_args(args: Mapping[str, Any]) -> str:
    """Arguments for the log line: an order is summarised, never dumped."""
    if "order" in args and isinstance(args["order"], dict):
        order = args["order"]
        return f"{order.get('side')} {order.get('volume')} {order.get('symbol')}"
    return " ".join(f"{k}={v}" for k, v in args.items())


# -- client side --------------------------------------------------------------------------------


@dataclass
class _Pending:
    started: float
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    ack_ms: float | None = None
    final: asyncio.Future[CommandReply] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class CommandClient:
    """Sends signed commands to one engine and waits for its signed answers. One reply channel
    per client, subscribed once, so a command costs one PUBLISH and two messages back."""

    def __init__(self, redis: Redis, keys: EngineKeys, secret: str) -> None:
        self._redis = redis
        self.keys = keys
        self._signer = Signer(secret, keys)
        self.reply_id = secrets.token_hex(16)
        self._pending: dict[str, _Pending] = {}
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._reader_stop = StopSignal()
        self._subscribed = asyncio.Event()

    async def close(self) -> None:
        await self._drop_subscription()

    async def send(
        self, command: Command, args: Mapping[str, Any] | None = None, *, timeout_s: float = 5.0
    ) -> CommandReply:
        """The engine's answer. Raises `EngineNotListening` when no command server is
        subscribed and `CommandTimeout` when the acknowledgement or the result does not arrive
        within `timeout_s` (measured from sending)."""
        await self._ensure_subscribed(timeout_s)
        request = command_request(command, args or {}, signer=self._signer, reply_id=self.reply_id)
        pending = _Pending(time.perf_counter())
        self._pending[request["nonce"]] = pending
        try:
            receivers = await self._redis.publish(self.keys.commands, orjson.dumps(request))
            if receivers == 0:
                raise EngineNotListening(
                    f"engine {self.keys.engine_id!r} is not listening for commands "
                    "(not running, or started without redis.command_secret)"
                )
            try:
                return await asyncio.wait_for(asyncio.shield(pending.final), timeout_s)
            except TimeoutError:
                stage = "a result" if pending.acked.is_set() else "an acknowledgement"
                raise CommandTimeout(
                    f"no answer from engine {self.keys.engine_id!r} within {timeout_s:g} s "
                    f"(waiting for {stage} to {command.value})"
                ) from None
        finally:
            self._pending.pop(request["nonce"], None)

    async def _ensure_subscribed(self, timeout_s: float) -> None:
        if self._reader is not None and not self._reader.done():
            await asyncio.wait_for(self._subscribed.wait(), timeout_s)
            return
        await self._drop_subscription()
        self._subscribed.clear()
        self._reader_stop = StopSignal()
        self._pubsub = self._redis.pubsub()
        await self._pubsub.subscribe(self.keys.reply(self.reply_id))
        self._reader = asyncio.create_task(
            self._read_replies(self._pubsub, self._reader_stop), name="command replies"
        )
        await asyncio.wait_for(self._subscribed.wait(), timeout_s)

    async def _drop_subscription(self) -> None:
        if self._reader is not None:
            pubsub = self._pubsub
            await finish(
                self._reader, self._reader_stop, wake=pubsub.unsubscribe if pubsub else None
            )
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None

    async def _read_replies(self, pubsub: PubSub, stop: StopSignal) -> None:
        try:
            while not stop.is_set:
                message = await pubsub.get_message(timeout=POLL_S)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    self._subscribed.set()
                elif message["type"] == "message":
                    self._on_reply(message["data"])
        except REDIS_FAILURES as exc:
            for pending in self._pending.values():
                if not pending.final.done():
                    pending.final.set_exception(
                        RemoteCommandError(f"lost the Redis connection: {exc}")
                    )

    def _on_reply(self, payload: bytes) -> None:
        try:
            reply = orjson.loads(payload)
            outcome = Outcome(reply["outcome"])
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed command reply")
            return
        nonce = reply.get("nonce")
        pending = self._pending.get(nonce) if isinstance(nonce, str) else None
        if pending is None:
            return
        if outcome is Outcome.REFUSED:
            result = reply.get("result")
            message = result.get("message", "refused") if isinstance(result, dict) else "refused"
            refused = CommandResult(False, bounded(str(message)))
            self._finish(pending, CommandReply(Outcome.REFUSED, refused, pending.acked.is_set()))
            return
        if not self._signer.object_valid(Purpose.REPLY, reply):
            logger.warning("ignored a command reply with a bad signature")
            return
        elapsed_ms = (time.perf_counter() - pending.started) * 1000
        if outcome is Outcome.ACCEPTED:
            pending.ack_ms = elapsed_ms
            pending.acked.set()
            return
        fields = reply["result"]
        result = CommandResult(
            fields["ok"], bounded(fields["message"]), dict(fields.get("detail") or {})
        )
        self._finish(pending, CommandReply(outcome, result, True, pending.ack_ms, elapsed_ms))

    @staticmethod
    def _finish(pending: _Pending, reply: CommandReply) -> None:
        if not pending.final.done():
            pending.final.set_result(reply)
