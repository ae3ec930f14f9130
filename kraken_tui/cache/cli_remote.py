"""The remote-control commands behind ``kraken-tui ctl``, ``kraken-tui engines`` and
``kraken-tui attach``, as plain functions returning an exit code (the typer app wires them).

Exit codes follow the CLI's: 0 done, 1 runtime failure (Redis unreachable, no answer within
the timeout, the engine declined), 2 usage or configuration (no such engine or strategy,
missing or wrong command secret, remote control disabled on the engine).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from typing import TextIO, cast
from urllib.parse import urlsplit

from redis.asyncio import Redis

from kraken_tui.cache.codec import CodecError, snapshot_from_state_hash
from kraken_tui.cache.commands import (
    Command,
    CommandClient,
    EngineNotListening,
    Outcome,
    RemoteCommandError,
)
from kraken_tui.cache.connection import REDIS_FAILURES, open_redis
from kraken_tui.cache.keys import EngineKeys, check_engine_id
from kraken_tui.cache.presence import EngineHeartbeat, live_engines, read_heartbeat
from kraken_tui.cache.signing import Purpose, Signer
from kraken_tui.domain import ConnectionState
from kraken_tui.engine.api import EngineSnapshot
from kraken_tui.settings import RedisSettings, Settings

EXIT_OK = 0
EXIT_RUNTIME_FAILURE = 1
EXIT_USAGE = 2

DEFAULT_TIMEOUT_S = 5.0
ATTACH_READY_TIMEOUT_S = 10.0

CTL_COMMANDS: dict[str, Command | None] = {
    "status": None,
    "pause": Command.PAUSE,
    "resume": Command.RESUME,
    "pause-all": Command.PAUSE_ALL,
    "resume-all": Command.RESUME_ALL,
    "kill": Command.KILL_SWITCH,
    "reset-kill": Command.RESET_KILL_SWITCH,
    "cancel-all": Command.CANCEL_ALL,
}
"""``ctl`` verbs and the remote command each sends (``status`` only reads the cache)."""

_EXIT_BY_OUTCOME = {
    Outcome.OK: EXIT_OK,
    Outcome.FAILED: EXIT_RUNTIME_FAILURE,
    Outcome.ERROR: EXIT_RUNTIME_FAILURE,
    Outcome.UNKNOWN_STRATEGY: EXIT_USAGE,
    Outcome.REFUSED: EXIT_USAGE,
}


class _Fail(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def redis_location(settings: RedisSettings) -> str:
    """Host, port and db of the Redis URL, never its credentials."""
    parts = urlsplit(settings.url or "")
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


def ctl(
    settings: Settings,
    command: str,
    name: str | None = None,
    engine_id: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run one ``ctl`` verb against the engine `engine_id` (default: ``redis.engine_id``),
    print the acknowledgement and the result, and return the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        return asyncio.run(_ctl(settings.redis, command, name, engine_id, timeout, out))
    except _Fail as failure:
        print(f"kraken-tui ctl: {failure}", file=err)
        return failure.code


async def _ctl(
    settings: RedisSettings,
    verb: str,
    name: str | None,
    engine_id: str | None,
    timeout_s: float,
    out: TextIO,
) -> int:
    if verb not in CTL_COMMANDS:
        raise _Fail(EXIT_USAGE, f"unknown command {verb!r}; use one of {', '.join(CTL_COMMANDS)}")
    command = CTL_COMMANDS[verb]
    if command in (Command.PAUSE, Command.RESUME) and not name:
        raise _Fail(EXIT_USAGE, f"{verb} needs a strategy NAME")
    if not settings.url:
        raise _Fail(EXIT_USAGE, "redis.url is not configured (KRAKEN_TUI_REDIS__URL)")
    if command is not None and settings.command_secret is None:
        raise _Fail(
            EXIT_USAGE,
            f"{verb} needs the shared command secret: set redis.command_secret "
            "(KRAKEN_TUI_REDIS__COMMAND_SECRET)",
        )
    keys = _engine_keys(settings, engine_id)
    redis = open_redis(settings, socket_timeout_s=timeout_s)
    try:
        beat = await read_heartbeat(redis, keys)
        if beat is None:
            raise _Fail(
                EXIT_USAGE,
                f"no engine {keys.engine_id!r} is running at {redis_location(settings)} "
                f"(no heartbeat under {keys.heartbeat})",
            )
        if command is None:
            snapshot, trust = await _read_snapshot(redis, keys, settings)
            out.write(format_status(beat, snapshot, trust))
            return EXIT_OK
        assert settings.command_secret is not None
        client = CommandClient(redis, keys, settings.command_secret.get_secret_value())
        try:
            reply = await client.send(command, _args(command, name), timeout_s=timeout_s)
        finally:
            await client.close()
    except EngineNotListening as exc:
        raise _Fail(EXIT_USAGE, str(exc)) from None
    except RemoteCommandError as exc:
        raise _Fail(EXIT_RUNTIME_FAILURE, str(exc)) from None
    except REDIS_FAILURES as exc:
        raise _Fail(
            EXIT_RUNTIME_FAILURE, f"cannot reach Redis at {redis_location(settings)}: {exc}"
        ) from None
    finally:
        await redis.aclose()
    target = f"{verb} {name}" if name else verb
    if reply.acknowledged and reply.ack_ms is not None:
        out.write(f"engine {keys.engine_id}: {target} acknowledged in {reply.ack_ms:.1f} ms\n")
    status = reply.outcome.value.replace("_", " ")
    message = reply.result.message
    if not message.startswith(f"{status}: "):
        message = f"{status}: {message}"
    line = f"{message} ({reply.total_ms:.1f} ms)\n"
    code = _EXIT_BY_OUTCOME[reply.outcome]
    if code == EXIT_OK:
        out.write(line)
    else:
        raise _Fail(code, line.rstrip("\n"))
    return code


def _engine_keys(settings: RedisSettings, engine_id: str | None) -> EngineKeys:
    try:
        return EngineKeys(settings.key_prefix, check_engine_id(engine_id or settings.engine_id))
    except ValueError as exc:
        raise _Fail(EXIT_USAGE, str(exc)) from None


def _args(command: Command, name: str | None) -> dict[str, str]:
    if command in (Command.PAUSE, Command.RESUME):
        return {"strategy": name or ""}
    if command is Command.KILL_SWITCH:
        return {"reason": "ctl"}
    return {}


async def _read_snapshot(
    redis: Redis, keys: EngineKeys, settings: RedisSettings
) -> tuple[EngineSnapshot | None, str]:
    """The published state and whether it is verified; a state that fails verification is
    not returned, so `ctl status` never prints forged figures as the engine's."""
    # redis-py types replies for every decoding mode; ours (no decode_responses) gives bytes.
    state = cast(dict[bytes, bytes], await redis.hgetall(keys.state))
    if not state:
        return None, ""
    secret = settings.command_secret
    if secret is None:
        trust = "unverified (no redis.command_secret to check it with)"
    elif Signer(secret.get_secret_value(), keys).fields_valid(Purpose.STATE, state):
        trust = "verified"
    else:
        return None, "UNVERIFIED: the published state failed its signature check; not shown"
    try:
        return snapshot_from_state_hash(state), trust
    except CodecError:
        return None, ""


def format_status(beat: EngineHeartbeat, snapshot: EngineSnapshot | None, trust: str) -> str:
    """The ``ctl status`` report: who the engine is, whether it trades, and its strategies."""
    now = datetime.now(UTC)
    uptime = str(now - beat.started_at).split(".")[0]
    control = "enabled" if beat.remote_control else "disabled (no command secret on the engine)"
    lines = [
        f"engine {beat.engine_id}: {beat.state}, {beat.mode} mode, pid {beat.pid} on {beat.host}, "
        f"up {uptime}, heartbeat {beat.age_s(now):.1f} s ago",
        f"remote control: {control}",
    ]
    if trust:
        lines.append(f"state: {trust}")
    if snapshot is None:
        if not trust:
            lines.append("state: not published yet")
        return "\n".join(lines) + "\n"
    risk, portfolio = snapshot.risk, snapshot.portfolio
    trading = f"trading: {risk.trading_state}" + (f" ({risk.reason})" if risk.reason else "")
    lines.append(
        f"{trading}; equity {portfolio.equity} {portfolio.quote_ccy}, "
        f"drawdown {portfolio.drawdown_pct:.2f}%, daily PnL {portfolio.daily_pnl:.2f}"
    )
    if snapshot.connection is not None:
        latency = snapshot.connection.latency_ms
        suffix = f" ({latency:.0f} ms)" if latency is not None else ""
        lines.append(f"exchange: {snapshot.connection.state}{suffix}")
    lines.append(
        f"open orders: {len(snapshot.open_orders)}; positions: "
        f"{sum(1 for p in snapshot.positions if p.strategy is None and not p.is_flat)}"
    )
    lines.append(f"strategies ({len(snapshot.strategies)}):")
    for strategy in snapshot.strategies:
        error = f"  error: {strategy.error}" if strategy.error else ""
        lines.append(
            f"  {strategy.name:<20} {strategy.symbol:<10} {strategy.state:<8} "
            f"pnl {strategy.pnl}{error}"
        )
    return "\n".join(lines) + "\n"


def list_engines(
    settings: Settings, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Print every engine with a live heartbeat under ``redis.key_prefix``."""
    out, err = out or sys.stdout, err or sys.stderr
    if not settings.redis.url:
        print("kraken-tui engines: redis.url is not configured", file=err)
        return EXIT_USAGE
    try:
        engines = asyncio.run(_list(settings.redis))
    except REDIS_FAILURES as exc:
        location = redis_location(settings.redis)
        print(f"kraken-tui engines: cannot reach Redis at {location}: {exc}", file=err)
        return EXIT_RUNTIME_FAILURE
    if not engines:
        out.write(f"no engine is running under prefix {settings.redis.key_prefix!r}\n")
    now = datetime.now(UTC)
    for beat in engines:
        control = "ctl" if beat.remote_control else "read-only"
        out.write(
            f"{beat.engine_id:<20} {beat.state:<9} {beat.mode:<8} pid {beat.pid} on {beat.host}  "
            f"{control}  heartbeat {beat.age_s(now):.1f} s ago\n"
        )
    return EXIT_OK


async def _list(settings: RedisSettings) -> list[EngineHeartbeat]:
    redis = open_redis(settings)
    try:
        return await live_engines(redis, settings.key_prefix)
    finally:
        await redis.aclose()


def attach(settings: Settings, engine_id: str | None = None, *, err: TextIO | None = None) -> int:
    """Open the console on a running engine through Redis; returns when the console quits."""
    err = err or sys.stderr
    try:
        return asyncio.run(_attach(settings, engine_id))
    except _Fail as failure:
        print(f"kraken-tui attach: {failure}", file=err)
        return failure.code


async def _attach(settings: Settings, engine_id: str | None) -> int:
    from kraken_tui.cache.remote import RemoteEngine

    redis_settings = settings.redis
    if not redis_settings.url:
        raise _Fail(EXIT_USAGE, "redis.url is not configured (KRAKEN_TUI_REDIS__URL)")
    keys = _engine_keys(redis_settings, engine_id)
    redis = open_redis(redis_settings)
    try:
        beat = await read_heartbeat(redis, keys)
    except REDIS_FAILURES as exc:
        location = redis_location(redis_settings)
        raise _Fail(EXIT_RUNTIME_FAILURE, f"cannot reach Redis at {location}: {exc}") from None
    finally:
        await redis.aclose()
    if beat is None:
        raise _Fail(EXIT_USAGE, f"no engine {keys.engine_id!r} is running (no heartbeat)")
    async with RemoteEngine(redis_settings, keys.engine_id) as remote:
        if not await remote.wait_ready(ATTACH_READY_TIMEOUT_S):
            if remote.link.state is ConnectionState.UNVERIFIED:
                raise _Fail(
                    EXIT_USAGE,
                    f"engine {keys.engine_id!r}: {remote.link.reason}; "
                    "is redis.command_secret the engine's?",
                )
            raise _Fail(
                EXIT_RUNTIME_FAILURE,
                f"engine {keys.engine_id!r} published no state within {ATTACH_READY_TIMEOUT_S:g} s",
            )
        from kraken_tui.ui.app import KrakenTuiApp

        app = KrakenTuiApp(remote, mode=remote.snapshot().mode, refresh_hz=settings.ui.refresh_hz)
        await app.run_async()
    return EXIT_OK
