"""`RemoteEngine`: an `EngineApi` over Redis, so the same console can attach to a headless
engine on another machine (or in another process).

A background task keeps a local `EngineSnapshot` up to date: it reads the state hash and the
tail of the change stream in one MULTI/EXEC (so the hash matches the stream position), then
follows the stream with blocking XREADs, replacing only the parts an entry carries; untouched
parts keep their identity, so the console's `is not` redraw test works as with a local
engine, and `snapshot()` is a field read. A gap in the publisher's sequence, a new engine run
or a reconnect triggers a full resync.

A lost Redis, or an engine whose heartbeat expired, is shown through the snapshot itself: the
`connection` part then says RECONNECTING / DISCONNECTED with the reason and every book is
marked stale, so the console shows it without knowing it is remote; it clears on recovery.

Trust: with ``redis.command_secret`` set, only what the engine signed (`signing`) is applied:
the state hash must verify whole and be no older than the signed heartbeat says, each change
and log entry must verify on its own, the heartbeat must verify and be recent. Anything else
is not applied (the last verified state stays) and the link shows UNVERIFIED with the reason,
for `UNVERIFIED_HOLD_S` after the last such thing, so a forgery is noticed even though it was
ignored. Without a secret nothing can be verified: the state is shown as published, but the
link says UNVERIFIED for as long as the console runs, and commands are refused (read-only).

`preview_order` is computed locally from the replicated snapshot (trading state, instrument
rules), not by a round trip: the ticket calls it synchronously on every keystroke. The
engine's full pre-trade check still runs on submit, and a denial comes back as the result.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from typing import Any, cast

import orjson
from loguru import logger
from redis.asyncio import Redis

from kraken_tui.cache.background import StopSignal, finish
from kraken_tui.cache.codec import (
    CodecError,
    decode,
    decode_part,
    snapshot_from_state_hash,
    with_parts,
)
from kraken_tui.cache.commands import (
    FRESHNESS_S,
    Command,
    CommandClient,
    CommandReply,
    RemoteCommandError,
    amend_args,
    manual_order_args,
)
from kraken_tui.cache.connection import REDIS_FAILURES, open_redis
from kraken_tui.cache.keys import EngineKeys
from kraken_tui.cache.outage import Outage
from kraken_tui.cache.presence import EngineHeartbeat, Unverified
from kraken_tui.cache.signing import FIELDS_SIGNATURE, Purpose, Signer
from kraken_tui.domain import ComponentState, ConnectionState, Mode, TradingState
from kraken_tui.engine.api import (
    CommandResult,
    EngineSnapshot,
    LogLine,
    ManualOrder,
    RiskDecision,
)
from kraken_tui.exchange.protocol import ConnectionStatus
from kraken_tui.settings import RedisSettings

READ_BLOCK_MS = 200
READ_BATCH = 200
HEARTBEAT_CHECK_S = 1.0
LOG_SEED = 1_000
LOG_KEPT = 5_000
NOT_PUBLISHED_RETRY_S = 0.5
UNVERIFIED_HOLD_S = 30.0
NO_SECRET = "no redis.command_secret: nothing read from Redis can be verified"


@dataclass(frozen=True, slots=True)
class RemoteLink:
    """The console's link to the engine: Redis reachable and the engine's heartbeat present."""

    state: ConnectionState
    reason: str
    since: datetime


class _Resync(Exception):
    """The local copy can no longer be patched (sequence gap, new engine run, version change)."""


class _NothingPublished(Exception):
    """Redis is up but holds no state for this engine (never started, or Redis restarted)."""


class _StateUnverified(Exception):
    """The state hash did not verify; the last verified state stays and the read is retried."""


class RemoteEngine:
    """An `EngineApi` backed by a `CachePublisher` and a `CommandServer` through Redis.
    Use as ``async with RemoteEngine(settings.redis, "prod") as engine: ...``."""

    def __init__(
        self,
        redis_settings: RedisSettings,
        engine_id: str | None = None,
        *,
        command_timeout_s: float = 5.0,
        heartbeat_check_s: float = HEARTBEAT_CHECK_S,
    ) -> None:
        self.settings = redis_settings
        self.keys = EngineKeys(redis_settings.key_prefix, engine_id or redis_settings.engine_id)
        secret = redis_settings.command_secret
        self._signer = Signer(secret.get_secret_value(), self.keys) if secret else None
        self._distrust: tuple[str, float] | None = None
        """Why and when (monotonic) something read last failed verification."""
        self.command_timeout_s = command_timeout_s
        self.heartbeat_check_s = heartbeat_check_s
        self.heartbeat: EngineHeartbeat | None = None
        self.last_reply: CommandReply | None = None
        self.resyncs = 0
        self._redis: Redis | None = None
        self._client: CommandClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = StopSignal()
        self._outage = Outage(f"remote engine {self.keys.engine_id}")
        self._ready = asyncio.Event()
        self._state_read = asyncio.Event()
        """Set once a state was read, applied or found unverifiable, so a console with the
        wrong secret hears so at once instead of at the end of a timeout."""
        self._run: str | None = None
        self._seq = 0
        self._changes_id = b"0-0"
        self._log_id = b"0-0"
        self._log: deque[LogLine] = deque(maxlen=LOG_KEPT)
        self._log_seen: dict[str, int] = {}
        self._next_log_seq = 1
        now = datetime.now(UTC)
        self._base = EngineSnapshot(mode=Mode.SANDBOX, state=ComponentState.STARTING, ts=now)
        self.link = RemoteLink(ConnectionState.CONNECTING, "connecting to Redis", now)
        self._view = self._overlay()

    async def __aenter__(self) -> RemoteEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._redis = open_redis(self.settings)
        secret = self.settings.command_secret
        if secret is not None:
            self._client = CommandClient(self._redis, self.keys, secret.get_secret_value())
        self._task = asyncio.create_task(self._follow(), name=f"follow {self.keys.base}")

    async def stop(self) -> None:
        await finish(self._task, self._stop)
        self._task = None
        if self._client is not None:
            await self._client.close()
        if self._redis is not None:
            await self._redis.aclose()

    async def wait_ready(self, timeout_s: float) -> bool:
        """True once a full state was read from Redis and applied; False if the state read
        failed verification or none arrived in time (`link` then says why)."""
        try:
            await asyncio.wait_for(self._state_read.wait(), timeout_s)
        except TimeoutError:
            return False
        return self._ready.is_set()

    # -- EngineApi: reads ----------------------------------------------------------------------

    def snapshot(self) -> EngineSnapshot:
        return self._view

    def log_lines_since(self, seq: int, limit: int = 500) -> list[LogLine]:
        if not self._log:
            return []
        start = max(0, seq - self._log[0].seq + 1)
        return list(islice(self._log, start, start + limit))

    def preview_order(self, order: ManualOrder) -> RiskDecision:
        snapshot = self._base
        denial = self._link_denial()
        if denial is not None:
            return denial
        instrument = snapshot.instruments.get(order.symbol)
        if instrument is None:
            return RiskDecision.deny("unknown_symbol", f"{order.symbol} is not traded here")
        if order.quote_volume is not None:
            book = snapshot.books.get(order.symbol)
            ask = book.best_ask.price if book is not None and book.best_ask is not None else None
            error = instrument.check_quote_order(order.quote_volume, ask)
        else:
            error = instrument.check_order(order.price, order.volume)
        if error is not None:
            return RiskDecision.deny("instrument", error)
        return RiskDecision.allow()

    def preview_amend(
        self, cl_ord_id: str, price: Decimal | None = None, volume: Decimal | None = None
    ) -> RiskDecision:
        denial = self._link_denial()
        if denial is not None:
            return denial
        snapshot = self._base
        order = next((o for o in snapshot.open_orders if o.cl_ord_id == cl_ord_id), None)
        if order is None:
            return RiskDecision.deny("unknown_order", f"no open order {cl_ord_id}")
        instrument = snapshot.instruments.get(order.symbol)
        if instrument is None:
            return RiskDecision.deny("unknown_symbol", f"{order.symbol} is not traded here")
        error = instrument.check_order(
            order.price if price is None else price, order.volume if volume is None else volume
        )
        if error is not None:
            return RiskDecision.deny("instrument", error)
        return RiskDecision.allow()

    def _link_denial(self) -> RiskDecision | None:
        """Why no order can be previewed as allowed now: the link or a HALTED engine."""
        if self.link.state is ConnectionState.UNVERIFIED:
            return RiskDecision.deny("remote_link", f"engine state unverified: {self.link.reason}")
        if self.link.state is not ConnectionState.CONNECTED:
            return RiskDecision.deny("remote_link", f"engine not reachable: {self.link.reason}")
        if self._base.risk.trading_state is TradingState.HALTED:
            return RiskDecision.deny("trading_state", "trading is HALTED: only cancels allowed")
        return None

    # -- EngineApi: commands ---------------------------------------------------------------------

    async def pause(self, strategy: str) -> CommandResult:
        return await self._command(Command.PAUSE, {"strategy": strategy})

    async def resume(self, strategy: str) -> CommandResult:
        return await self._command(Command.RESUME, {"strategy": strategy})

    async def pause_all(self) -> CommandResult:
        return await self._command(Command.PAUSE_ALL)

    async def resume_all(self) -> CommandResult:
        return await self._command(Command.RESUME_ALL)

    async def kill_switch(self, reason: str = "manual") -> CommandResult:
        return await self._command(Command.KILL_SWITCH, {"reason": reason})

    async def reset_kill_switch(self) -> CommandResult:
        return await self._command(Command.RESET_KILL_SWITCH)

    async def submit_manual_order(self, order: ManualOrder) -> CommandResult:
        return await self._command(Command.SUBMIT_MANUAL_ORDER, manual_order_args(order))

    async def amend_order(
        self, cl_ord_id: str, price: Decimal | None = None, volume: Decimal | None = None
    ) -> CommandResult:
        return await self._command(Command.AMEND_ORDER, amend_args(cl_ord_id, price, volume))

    async def cancel_order(self, cl_ord_id: str) -> CommandResult:
        return await self._command(Command.CANCEL_ORDER, {"cl_ord_id": cl_ord_id})

    async def cancel_all(self) -> CommandResult:
        return await self._command(Command.CANCEL_ALL)

    async def _command(self, command: Command, args: dict[str, Any] | None = None) -> CommandResult:
        if self._client is None:
            return CommandResult(
                False, "read-only console: set redis.command_secret to send commands"
            )
        try:
            reply = await self._client.send(command, args, timeout_s=self.command_timeout_s)
        except RemoteCommandError as exc:
            return CommandResult(False, str(exc))
        except REDIS_FAILURES as exc:
            return CommandResult(False, f"Redis unavailable: {exc}")
        self.last_reply = reply
        return reply.result

    # -- following the engine --------------------------------------------------------------------

    async def _follow(self) -> None:
        while not self._stop.is_set:
            try:
                await self._resync()
                self._outage.recovered()
                await self._stream()
            except _Resync:
                continue
            except (_NothingPublished, _StateUnverified):
                await self._stop.sleep(NOT_PUBLISHED_RETRY_S)
            except (CodecError, KeyError, ValueError) as exc:
                logger.warning(
                    "engine {}: unreadable change ({}); resyncing", self.keys.engine_id, exc
                )
                await self._stop.sleep(NOT_PUBLISHED_RETRY_S)
            except REDIS_FAILURES as exc:
                self._set_link(ConnectionState.RECONNECTING, f"Redis connection lost: {exc}")
                await self._stop.sleep(self._outage.failed(exc))

    async def _resync(self) -> None:
        assert self._redis is not None
        self.resyncs += 1
        pipe = self._redis.pipeline(transaction=True)
        pipe.hgetall(self.keys.state)
        pipe.xrevrange(self.keys.changes, count=1)
        pipe.xrevrange(self.keys.log, count=LOG_SEED)
        pipe.get(self.keys.heartbeat)
        state, last_change, log_entries, heartbeat = await pipe.execute()
        if not state:
            self._set_link(
                ConnectionState.DISCONNECTED,
                f"engine {self.keys.engine_id!r} has published no state",
            )
            raise _NothingPublished
        self._check_state(state, heartbeat)
        try:
            base = snapshot_from_state_hash(state)
        except CodecError as exc:
            self._set_link(ConnectionState.DISCONNECTED, f"engine state unreadable: {exc}")
            raise _NothingPublished from exc
        self._run = state[b"_run"].decode()
        self._seq = int(state[b"_seq"])
        self._changes_id = last_change[0][0] if last_change else b"0-0"
        self._log_id = log_entries[0][0] if log_entries else b"0-0"
        for _, fields in reversed(log_entries):
            self._add_log_line(fields)
        self._base = base
        self._view = self._overlay()
        self._set_heartbeat(heartbeat)
        self._ready.set()
        self._state_read.set()

    def _check_state(self, state: dict[bytes, bytes], heartbeat: bytes | None) -> None:
        """Raises `_StateUnverified` for a state hash its signature does not vouch for, or
        an older signed copy written back (behind the signed heartbeat read in the same
        transaction, or behind what this console already showed)."""
        if self._signer is None:
            return
        problem = None
        if FIELDS_SIGNATURE.encode() not in state:
            problem = "engine state is not signed (engine without redis.command_secret?)"
        elif not self._signer.fields_valid(Purpose.STATE, state):
            problem = "engine state failed its signature check"
        else:
            run, seq = state[b"_run"].decode(), int(state[b"_seq"])
            beat = self._verified_heartbeat(heartbeat)
            if (beat is not None and (beat.run != run or beat.seq > seq)) or (
                run == self._run and seq < self._seq
            ):
                problem = "engine state is older than the engine (a signed copy written back)"
        if problem is not None:
            self._distrusted(problem)
            self._state_read.set()
            raise _StateUnverified(problem)

    def _verified_heartbeat(self, payload: bytes | None) -> EngineHeartbeat | None:
        if payload is None or self._signer is None:
            return None
        try:
            return EngineHeartbeat.verified(payload, self._signer, FRESHNESS_S)
        except Unverified:
            return None

    async def _stream(self) -> None:
        assert self._redis is not None
        next_check = time.monotonic() + self.heartbeat_check_s
        while not self._stop.is_set:
            # redis-py types replies for every protocol and decoding mode at once; ours
            # (RESP2, no decode_responses) is a list of (stream, entries) in bytes.
            response = cast(
                list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
                await self._redis.xread(
                    {self.keys.changes: self._changes_id, self.keys.log: self._log_id},
                    count=READ_BATCH,
                    block=READ_BLOCK_MS,
                ),
            )
            for stream, entries in response:
                if stream == self.keys.changes.encode():
                    self._apply_changes(entries)
                else:
                    for entry_id, fields in entries:
                        self._add_log_line(fields)
                        self._log_id = entry_id
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + self.heartbeat_check_s
                self._set_heartbeat(cast(bytes | None, await self._redis.get(self.keys.heartbeat)))

    def _apply_changes(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        base = self._base
        for entry_id, fields in entries:
            if self._signer is not None and not self._signer.fields_valid(Purpose.CHANGE, fields):
                self._changes_id = entry_id
                self._distrusted("ignored a change entry that failed its signature check")
                continue
            run, seq = fields[b"_run"].decode(), int(fields[b"_seq"])
            if run == self._run and seq <= self._seq:
                self._changes_id = entry_id
                continue
            if run != self._run or seq != self._seq + 1 or b"_full" in fields:
                raise _Resync
            changed = {
                name.decode(): decode_part(name.decode(), value)
                for name, value in fields.items()
                if not name.startswith(b"_")
            }
            removed = frozenset(orjson.loads(fields.get(b"_removed", b"[]")))
            base = with_parts(base, changed, removed)
            self._seq, self._changes_id = seq, entry_id
        if base is not self._base:
            self._base = base
            self._view = self._overlay()

    def _add_log_line(self, fields: dict[bytes, bytes]) -> None:
        """Lines are renumbered locally: an engine restart starts its numbering again, and a
        republish after a Redis outage repeats lines; (run, seq) spots both."""
        if self._signer is not None and not self._signer.fields_valid(Purpose.LOG, fields):
            self._distrusted("ignored a log entry that failed its signature check")
            return
        run = fields[b"run"].decode()
        line: LogLine = decode(fields[b"line"], LogLine)
        if line.seq <= self._log_seen.get(run, 0):
            return
        self._log_seen[run] = line.seq
        self._log.append(replace(line, seq=self._next_log_seq))
        self._next_log_seq += 1

    def _set_heartbeat(self, payload: bytes | None) -> None:
        beat = None
        if payload is not None and self._signer is not None:
            try:
                beat = EngineHeartbeat.verified(payload, self._signer, FRESHNESS_S)
            except Unverified as exc:
                self.heartbeat = None
                self._distrusted(str(exc))
                return
        elif payload is not None:
            try:
                beat = EngineHeartbeat.parse(payload)
            except (ValueError, KeyError, TypeError):
                beat = None
        previous_run = self.heartbeat.run if self.heartbeat is not None else None
        self.heartbeat = beat
        if beat is None:
            self._set_link(
                ConnectionState.DISCONNECTED,
                f"engine {self.keys.engine_id!r} is not running (no heartbeat)",
            )
            return
        problem = self._trust_problem()
        if problem is None:
            self._set_link(ConnectionState.CONNECTED, "")
        else:
            self._set_link(ConnectionState.UNVERIFIED, problem)
        if previous_run is not None and beat.run != previous_run and beat.run != self._run:
            raise _Resync

    def _trust_problem(self) -> str | None:
        """Why the console cannot vouch for what it shows now, or None."""
        if self._signer is None:
            return NO_SECRET
        if self._distrust is not None:
            reason, at = self._distrust
            if time.monotonic() - at < UNVERIFIED_HOLD_S:
                return reason
            self._distrust = None
        return None

    def _distrusted(self, reason: str) -> None:
        self._distrust = (reason, time.monotonic())
        self._set_link(ConnectionState.UNVERIFIED, reason)

    def _set_link(self, state: ConnectionState, reason: str) -> None:
        """Logged on a change of state only (Redis outages are reported by `Outage`)."""
        if self.link.state is state and self.link.reason == reason:
            return
        if state is not self.link.state:
            if state is ConnectionState.CONNECTED:
                logger.info("attached to engine {}", self.keys.engine_id)
            elif state in (ConnectionState.DISCONNECTED, ConnectionState.UNVERIFIED):
                logger.warning("engine {}: {}", self.keys.engine_id, reason)
        self.link = RemoteLink(state, reason, datetime.now(UTC))
        self._view = self._overlay()

    def _overlay(self) -> EngineSnapshot:
        """What the console sees: the replicated snapshot, or while the link is down or
        unverified the same snapshot with the link's state as its connection and every book
        marked stale."""
        base = self._base
        link = self.link
        if link.state is ConnectionState.CONNECTED:
            return base
        books = {symbol: replace(book, stale=True) for symbol, book in base.books.items()}
        status = ConnectionStatus(link.state, link.reason, since=link.since)
        return replace(base, connection=status, books=books)
