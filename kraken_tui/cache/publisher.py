"""`CachePublisher`: the engine's latest state in Redis, for `ctl`, `attach` and dashboards.

Pull, not push: the publisher reads `engine.snapshot()` at a fixed rate (20 Hz by default),
compares each part by identity with what it last published (the engine replaces a part when
it changes, so `is` is the whole change test) and sends only the changed ones, in one
MULTI/EXEC with:

- ``{prefix}:{engine}:state``, a hash with one JSON field per part (``book:BTC/USD``,
  ``positions``, ``risk`` …) plus ``_run``/``_seq``, the latest state;
- ``{prefix}:{engine}:changes``, a stream entry holding the same changed parts, so a reader
  follows changes with XREAD instead of polling the hash;
- ``{prefix}:{engine}:log``, a stream of recent log lines;
- ``{prefix}:{engine}:heartbeat``, a key with a TTL refreshed every second: no key, no engine.

With ``redis.command_secret`` set, everything written is signed (`signing.Signer`, bound to
the key prefix and engine id): the state hash as a whole (``_sig`` over the digest of every
field, run and sequence number included, so parts of different moments cannot be mixed), each
change and log entry (``_sig``), and the heartbeat (``sig``; it carries the latest sequence
number, so a console can tell a state rolled back to an older signed copy). A console then
trusts only what verifies. Without a secret nothing is signed and a console can verify nothing.

Nothing in the engine calls the publisher, so nothing in the trading path waits on Redis, and
there is no queue that can grow while Redis is down: a burst of market data between two ticks
coalesces into the one snapshot read at the next tick. On a Redis failure the publisher warns
once, keeps retrying with backoff, and after reconnecting republishes the full state (a
restarted Redis is empty).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime

import orjson
from loguru import logger
from redis.asyncio import Redis

from kraken_tui.cache.background import StopSignal, finish
from kraken_tui.cache.codec import BOOK_PREFIX, CODEC_VERSION, encode, snapshot_parts
from kraken_tui.cache.connection import REDIS_FAILURES, open_redis
from kraken_tui.cache.keys import EngineKeys
from kraken_tui.cache.outage import Outage
from kraken_tui.cache.signing import FIELDS_SIGNATURE, Purpose, Signer, field_digests, manifest
from kraken_tui.domain import BookSnapshot
from kraken_tui.engine.api import EngineApi, EngineSnapshot
from kraken_tui.settings import RedisSettings

DEFAULT_RATE_HZ = 20.0
DEFAULT_BOOK_DEPTH = 25
HEARTBEAT_EVERY_S = 1.0
HEARTBEAT_TTL_S = 5.0
CHANGES_MAXLEN = 2_000
LOG_MAXLEN = 5_000
LOG_BATCH = 500
LOG_TAIL_REPUBLISHED = 500


class CachePublisher:
    """Publishes one engine's state to Redis; see the module docstring for the key layout.
    `start()` returns at once; `stop()` removes the heartbeat so the engine reads as gone."""

    def __init__(
        self,
        engine: EngineApi,
        redis_settings: RedisSettings,
        engine_id: str | None = None,
        *,
        rate_hz: float = DEFAULT_RATE_HZ,
        book_depth: int = DEFAULT_BOOK_DEPTH,
        heartbeat_ttl_s: float = HEARTBEAT_TTL_S,
    ) -> None:
        if not 1 <= rate_hz <= 100:
            raise ValueError(f"rate_hz must be between 1 and 100, got {rate_hz}")
        self.engine = engine
        self.settings = redis_settings
        self.keys = EngineKeys(redis_settings.key_prefix, engine_id or redis_settings.engine_id)
        secret = redis_settings.command_secret
        self._signer = Signer(secret.get_secret_value(), self.keys) if secret else None
        self.period_s = 1.0 / rate_hz
        self.book_depth = book_depth
        self.heartbeat_ttl_s = heartbeat_ttl_s
        self.run_id = secrets.token_hex(8)
        self.started_at = datetime.now(UTC)
        self.published = 0
        """Number of successful publishes that carried at least one changed part."""
        self._redis: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = StopSignal()
        self._outage = Outage(f"cache publisher {self.keys.engine_id}")
        self._seq = 0
        self._last_snapshot: EngineSnapshot | None = None
        self._last_parts: dict[str, object] = {}
        self._trimmed: dict[str, tuple[BookSnapshot, BookSnapshot]] = {}
        self._digests: dict[str, str] = {}
        """Digest of every field of the state hash as last written, to sign it whole."""
        self._log_seq = 0
        self._log_tail: deque[bytes] = deque(maxlen=LOG_TAIL_REPUBLISHED)
        self._next_heartbeat = 0.0
        self.connected = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return bool(self.settings.url)

    async def start(self) -> None:
        if not self.enabled:
            return
        self._redis = open_redis(self.settings)
        self._task = asyncio.create_task(self._run(), name="redis cache publisher")
        logger.info(
            "publishing engine state to Redis under {} at {:g} Hz",
            self.keys.base,
            1 / self.period_s,
        )

    async def stop(self) -> None:
        if self._task is None:
            return
        await finish(self._task, self._stop)
        self._task = None
        assert self._redis is not None
        try:
            await self._redis.delete(self.keys.heartbeat)
        except REDIS_FAILURES as exc:
            logger.debug("heartbeat not removed at stop: {}", exc)
        await self._redis.aclose()

    async def _run(self) -> None:
        while not self._stop.is_set:
            try:
                await self._publish(full=True)
                self._outage.recovered()
                self.connected.set()
                deadline = time.monotonic()
                while not self._stop.is_set:
                    deadline += self.period_s
                    delay = deadline - time.monotonic()
                    if delay < 0:
                        deadline = time.monotonic()
                    await self._stop.sleep(delay)
                    await self._publish(full=False)
            except REDIS_FAILURES as exc:
                self.connected.clear()
                await self._stop.sleep(self._outage.failed(exc))
            except Exception:
                # A snapshot that cannot be read or encoded is a bug elsewhere; publishing
                # stops being useful but must not end, and trading is unaffected.
                self.connected.clear()
                logger.exception("cache publisher: publishing failed; retrying in 1 s")
                await self._stop.sleep(1.0)

    async def _publish(self, *, full: bool) -> None:
        """One MULTI/EXEC with what changed since the last successful publish (everything
        when `full`). Bookkeeping advances only after Redis accepted it, so a failed publish
        is resent whole after the reconnect."""
        assert self._redis is not None
        keys = self.keys
        pipe = self._redis.pipeline(transaction=True)
        snapshot = self.engine.snapshot()
        parts = self._last_parts
        seq = self._seq
        digests = self._digests
        if full or snapshot is not self._last_snapshot:
            parts = self._parts_of(snapshot)
            changed = {
                name: value
                for name, value in parts.items()
                if full or self._last_parts.get(name) is not value
            }
            removed = [] if full else [name for name in self._last_parts if name not in parts]
            if changed or removed or full:
                seq += 1
                header = {"_run": self.run_id, "_seq": str(seq), "_v": str(CODEC_VERSION)}
                encoded = {name: encode(value) for name, value in changed.items()}
                if full:
                    pipe.delete(keys.state)
                elif removed:
                    pipe.hdel(keys.state, *removed)
                written: dict[str, str | bytes] = {**encoded, **header}
                entry: dict[str, str | bytes] = {**written, "_removed": orjson.dumps(removed)}
                if full:
                    entry["_full"] = b"1"
                if self._signer is not None:
                    kept = {} if full else {n: d for n, d in digests.items() if n not in removed}
                    digests = {**kept, **field_digests(written)}
                    written[FIELDS_SIGNATURE] = self._signer.sign(Purpose.STATE, manifest(digests))
                    entry[FIELDS_SIGNATURE] = self._signer.sign_fields(Purpose.CHANGE, entry)
                pipe.hset(
                    keys.state,
                    mapping=written,  # type: ignore[arg-type]  # redis-py's key type is invariant
                )
                pipe.xadd(
                    keys.changes,
                    entry,  # type: ignore[arg-type]  # redis-py's key type is invariant
                    maxlen=CHANGES_MAXLEN,
                    approximate=True,
                )
        lines = self.engine.log_lines_since(self._log_seq, LOG_BATCH)
        new_tail = [encode(line) for line in lines]
        for payload in [*self._log_tail, *new_tail] if full else new_tail:
            pipe.xadd(
                keys.log,
                self._log_entry(payload),  # type: ignore[arg-type]  # redis-py's key type is invariant
                maxlen=LOG_MAXLEN,
                approximate=True,
            )
        now = time.monotonic()
        if full or now >= self._next_heartbeat:
            pipe.set(
                keys.heartbeat,
                self._heartbeat(snapshot, seq),
                px=int(self.heartbeat_ttl_s * 1000),
            )
        if len(pipe) == 0:
            return
        await pipe.execute()
        if seq != self._seq:
            self.published += 1
        self._seq = seq
        self._digests = digests
        self._last_snapshot = snapshot
        self._last_parts = parts
        if lines:
            self._log_seq = lines[-1].seq
            self._log_tail.extend(new_tail)
        if full or now >= self._next_heartbeat:
            self._next_heartbeat = now + HEARTBEAT_EVERY_S

    def _parts_of(self, snapshot: EngineSnapshot) -> dict[str, object]:
        parts = snapshot_parts(snapshot)
        for name, value in parts.items():
            if name.startswith(BOOK_PREFIX) and isinstance(value, BookSnapshot):
                parts[name] = self._top_of(value)
        return parts

    def _top_of(self, book: BookSnapshot) -> BookSnapshot:
        """The book cut to `book_depth` levels a side; the cut copy is kept per source object
        so an unchanged book keeps an unchanged identity and is not resent."""
        depth = self.book_depth
        if len(book.bids) <= depth and len(book.asks) <= depth:
            return book
        cached = self._trimmed.get(book.symbol)
        if cached is not None and cached[0] is book:
            return cached[1]
        top = replace(book, bids=book.bids[:depth], asks=book.asks[:depth])
        self._trimmed[book.symbol] = (book, top)
        return top

    def _log_entry(self, payload: bytes) -> dict[str, str | bytes]:
        entry: dict[str, str | bytes] = {"run": self.run_id, "line": payload}
        if self._signer is not None:
            entry[FIELDS_SIGNATURE] = self._signer.sign_fields(Purpose.LOG, entry)
        return entry

    def _heartbeat(self, snapshot: EngineSnapshot, seq: int) -> bytes:
        fields: dict[str, object] = {
            "v": CODEC_VERSION,
            "engine_id": self.keys.engine_id,
            "run": self.run_id,
            "seq": seq,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "mode": snapshot.mode.value,
            "state": snapshot.state.value,
            "started_at": self.started_at.isoformat(),
            "ts": datetime.now(UTC).isoformat(),
            "remote_control": self.settings.command_secret is not None,
        }
        if self._signer is not None:
            fields["sig"] = self._signer.sign_object(Purpose.HEARTBEAT, fields)
        return orjson.dumps(fields)
