"""Signed remote commands through a real redis-server: what is executed, what is refused."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import orjson
import pytest
from cache_fixtures import COMMAND_SECRET, KEY_PREFIX, WRONG_SECRET, wait_until
from pydantic import SecretStr
from redis.asyncio import Redis
from static_engine import StaticEngine

from kraken_tui.cache.commands import (
    MAX_REPLY_CHARS,
    MAX_REQUEST_BYTES,
    Command,
    CommandClient,
    CommandServer,
    EngineNotListening,
    Outcome,
    command_request,
    manual_order_args,
)
from kraken_tui.cache.keys import EngineKeys
from kraken_tui.cache.service import EngineCache
from kraken_tui.cache.signing import Purpose, Signer
from kraken_tui.domain import OrderType, Side, StrategyState, TradingState
from kraken_tui.engine.api import ManualOrder
from kraken_tui.settings import RedisSettings


def state_of(engine: StaticEngine, name: str) -> StrategyState:
    return next(s.state for s in engine.snapshot().strategies if s.name == name)


async def send(
    redis_server: str, keys: EngineKeys, command: Command, args: dict[str, object] | None = None, *,
    secret: str = COMMAND_SECRET, timeout_s: float = 3.0,
):  # type: ignore[no-untyped-def]  # fmt: skip
    redis = Redis.from_url(redis_server)
    client = CommandClient(redis, keys, secret)
    try:
        return await client.send(command, args, timeout_s=timeout_s)
    finally:
        await client.close()
        await redis.aclose()


class ReplyListener:
    """Collects whatever the engine publishes on one reply channel."""

    def __init__(self, redis: Redis, channel: str) -> None:
        self.pubsub = redis.pubsub()
        self.channel = channel
        self.replies: list[dict[str, object]] = []

    async def __aenter__(self) -> ReplyListener:
        await self.pubsub.subscribe(self.channel)
        self._task = asyncio.create_task(self._collect())
        return self

    async def _collect(self) -> None:
        async for message in self.pubsub.listen():
            if message["type"] == "message":
                self.replies.append(orjson.loads(message["data"]))

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.pubsub.aclose()


def test_the_signature_covers_every_field_the_engine_and_the_prefix() -> None:
    keys = EngineKeys("kt", "e1")
    signer = Signer(COMMAND_SECRET, keys)
    request = command_request(Command.PAUSE, {"strategy": "a"}, signer=signer, reply_id="ab" * 8)
    reordered = dict(reversed(list(request.items())))
    assert signer.object_valid(Purpose.COMMAND, reordered)
    assert not Signer(WRONG_SECRET, keys).object_valid(Purpose.COMMAND, request)
    for field, value in [
        ("v", 1),
        ("command", "kill_switch"),
        ("args", {"strategy": "b"}),
        ("ts_ms", 1),
        ("nonce", "cd" * 8),
        ("reply_id", "ef" * 8),
    ]:
        assert not signer.object_valid(Purpose.COMMAND, {**request, field: value}), field
    for elsewhere in (EngineKeys("kt", "e2"), EngineKeys("kt2", "e1")):
        assert not Signer(COMMAND_SECRET, elsewhere).object_valid(Purpose.COMMAND, request)
    assert not signer.object_valid(Purpose.REPLY, request)


async def test_a_command_replayed_on_another_prefix_or_engine_is_refused_and_not_run(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings, redis_server: str
) -> None:
    """Someone who can read and publish on a shared Redis copies a signed command off one
    engine's channel and publishes it on other engines' channels (same secret)."""
    elsewhere = [
        redis_settings.model_copy(update={"key_prefix": f"{KEY_PREFIX}_other"}),
        redis_settings.model_copy(update={"engine_id": f"{redis_settings.engine_id}-other"}),
    ]
    others = [(StaticEngine(), settings) for settings in elsewhere]
    caches = [EngineCache(other, settings) for other, settings in others]
    redis = Redis.from_url(redis_server)
    sniffer = redis.pubsub()
    await sniffer.subscribe(served.commands.keys.commands)
    try:
        for cache in caches:
            await cache.start()
            await asyncio.wait_for(cache.commands.listening.wait(), 5)
        reply = await send(redis_server, served.commands.keys, Command.PAUSE_ALL)
        assert reply.outcome is Outcome.OK
        captured = await sniffer.get_message(timeout=2)
        while captured is not None and captured["type"] != "message":
            captured = await sniffer.get_message(timeout=2)
        assert captured is not None
        for cache in caches:
            await redis.publish(cache.commands.keys.commands, captured["data"])
        await wait_until(lambda: all(c.commands.refused == 1 for c in caches))
    finally:
        await sniffer.aclose()
        await redis.aclose()
        for cache in caches:
            await cache.stop()
    assert engine.commands == ["pause_all"]
    assert [other.commands for other, _ in others] == [[], []]
    assert all(cache.commands.executed == 0 for cache in caches)


async def test_a_signed_pause_is_acknowledged_executed_and_answered(
    served: EngineCache, engine: StaticEngine, redis_server: str
) -> None:
    reply = await send(redis_server, served.commands.keys, Command.PAUSE, {"strategy": "sma_cross"})
    assert reply.outcome is Outcome.OK and reply.acknowledged
    assert reply.result.ok and reply.result.message == "sma_cross paused"
    assert reply.ack_ms is not None and reply.ack_ms <= reply.total_ms
    assert state_of(engine, "sma_cross") is StrategyState.PAUSED


async def test_a_manual_order_travels_exactly(
    served: EngineCache, engine: StaticEngine, redis_server: str
) -> None:
    order = ManualOrder(
        "BTC/USD", Side.BUY, OrderType.LIMIT, Decimal("0.01000000"), Decimal("64000.0")
    )
    reply = await send(
        redis_server, served.commands.keys, Command.SUBMIT_MANUAL_ORDER, manual_order_args(order)
    )
    assert reply.outcome is Outcome.OK
    placed = next(
        o for o in engine.snapshot().open_orders if o.cl_ord_id == reply.result.detail["cl_ord_id"]
    )
    assert (placed.volume, placed.price) == (order.volume, order.price)
    assert str(placed.volume) == "0.01000000"


async def test_an_unknown_strategy_is_reported_as_such(
    served: EngineCache, engine: StaticEngine, redis_server: str
) -> None:
    reply = await send(redis_server, served.commands.keys, Command.RESUME, {"strategy": "nope"})
    assert reply.outcome is Outcome.UNKNOWN_STRATEGY
    assert "no strategy named 'nope'" in reply.result.message
    assert "sma_cross" in reply.result.message
    assert engine.commands == []


async def test_a_command_signed_with_the_wrong_secret_is_refused(
    served: EngineCache, engine: StaticEngine, redis_server: str
) -> None:
    reply = await send(
        redis_server, served.commands.keys, Command.KILL_SWITCH, {"reason": "x"},
        secret=WRONG_SECRET,
    )  # fmt: skip
    assert reply.outcome is Outcome.REFUSED and not reply.acknowledged
    assert reply.result.message == "refused: bad signature"
    assert engine.snapshot().risk.trading_state is TradingState.ACTIVE
    assert engine.commands == [] and served.commands.refused == 1


async def test_a_replayed_command_is_refused_and_runs_once(
    served: EngineCache, engine: StaticEngine, redis_server: str
) -> None:
    keys = served.commands.keys
    reply_id = "0f" * 16
    request = command_request(
        Command.PAUSE_ALL, {}, signer=Signer(COMMAND_SECRET, keys), reply_id=reply_id
    )
    redis = Redis.from_url(redis_server)
    try:
        async with ReplyListener(redis, keys.reply(reply_id)) as listener:
            await redis.publish(keys.commands, orjson.dumps(request))
            await wait_until(lambda: len(listener.replies) >= 2)
            await redis.publish(keys.commands, orjson.dumps(request))
            await wait_until(lambda: len(listener.replies) >= 3)
    finally:
        await redis.aclose()
    outcomes = [r["outcome"] for r in listener.replies]
    assert outcomes == ["accepted", "ok", "refused"]
    assert listener.replies[2]["result"]["message"] == "refused: replayed command"  # type: ignore[index]
    assert engine.commands == ["pause_all"]


async def test_a_replay_after_an_engine_restart_is_refused_through_redis(
    engine: StaticEngine, redis_settings: RedisSettings, redis_server: str
) -> None:
    keys = EngineKeys(redis_settings.key_prefix, redis_settings.engine_id)
    request = command_request(
        Command.CANCEL_ALL, {}, signer=Signer(COMMAND_SECRET, keys), reply_id="1e" * 16
    )
    redis = Redis.from_url(redis_server)
    try:
        for _ in range(2):
            server = CommandServer(engine, redis_settings)
            await server.start()
            await asyncio.wait_for(server.listening.wait(), 5)
            await redis.publish(keys.commands, orjson.dumps(request))
            await wait_until(lambda s=server: s.executed + s.refused == 1)
            await server.stop()
    finally:
        await redis.aclose()
    assert engine.commands == ["cancel_all"]


async def test_a_stale_command_is_refused(
    served: EngineCache, engine: StaticEngine, redis_server: str
) -> None:
    keys = served.commands.keys
    reply_id = "2d" * 16
    request = command_request(
        Command.CANCEL_ALL, {}, signer=Signer(COMMAND_SECRET, keys), reply_id=reply_id,
        now_s=time.time() - 120,
    )  # fmt: skip
    redis = Redis.from_url(redis_server)
    try:
        async with ReplyListener(redis, keys.reply(reply_id)) as listener:
            await redis.publish(keys.commands, orjson.dumps(request))
            await wait_until(lambda: len(listener.replies) >= 1)
    finally:
        await redis.aclose()
    assert listener.replies[0]["outcome"] == "refused"
    assert "stale" in listener.replies[0]["result"]["message"]  # type: ignore[index]
    assert engine.commands == []


async def test_without_a_command_secret_the_engine_accepts_no_commands(
    engine: StaticEngine, redis_settings: RedisSettings, redis_server: str
) -> None:
    unsigned = redis_settings.model_copy(update={"command_secret": None})
    cache = EngineCache(engine, unsigned)
    await cache.start()
    try:
        await asyncio.wait_for(cache.publisher.connected.wait(), 5)
        assert not cache.commands.enabled
        with pytest.raises(EngineNotListening):
            await send(redis_server, cache.publisher.keys, Command.PAUSE_ALL)
    finally:
        await cache.stop()
    assert engine.commands == []


async def test_a_forged_success_reply_is_ignored(
    engine: StaticEngine, redis_settings: RedisSettings, redis_server: str
) -> None:
    """Someone with Redis write access but no secret answers in the engine's place."""
    keys = EngineKeys(redis_settings.key_prefix, redis_settings.engine_id)
    redis = Redis.from_url(redis_server)
    impostor = redis.pubsub()
    await impostor.subscribe(keys.commands)

    async def answer_falsely() -> None:
        async for message in impostor.listen():
            if message["type"] == "message":
                request = orjson.loads(message["data"])
                forged = {
                    "v": 2,
                    "nonce": request["nonce"],
                    "outcome": "ok",
                    "result": {"ok": True, "message": "done", "detail": {}},
                }
                forged["sig"] = Signer(WRONG_SECRET, keys).sign_object(Purpose.REPLY, forged)
                await redis.publish(keys.reply(request["reply_id"]), orjson.dumps(forged))

    task = asyncio.create_task(answer_falsely())
    try:
        with pytest.raises(Exception, match="no answer from engine"):
            await send(redis_server, keys, Command.KILL_SWITCH, timeout_s=0.5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await impostor.aclose()
        await redis.aclose()


def test_settings_secret_is_needed_to_build_a_server(redis_settings: RedisSettings) -> None:
    server = CommandServer(
        StaticEngine(),
        redis_settings.model_copy(update={"command_secret": SecretStr(WRONG_SECRET)}),
    )
    assert server.enabled
    assert not CommandServer(
        StaticEngine(), redis_settings.model_copy(update={"url": None})
    ).enabled


async def test_a_refusal_quoting_a_hostile_request_is_bounded(
    served: EngineCache, engine: StaticEngine, redis_server: str
) -> None:
    """Unauthenticated input must not make the engine publish (or a terminal print) text of
    the sender's choosing at any length, nor terminal escapes."""
    keys = served.commands.keys
    reply_id = "3c" * 16
    hostile = {"v": "\x1b[2J" + "x" * 20_000, "command": "y" * 20_000, "reply_id": reply_id}
    redis = Redis.from_url(redis_server)
    try:
        async with ReplyListener(redis, keys.reply(reply_id)) as listener:
            await redis.publish(keys.commands, orjson.dumps(hostile))
            await wait_until(lambda: len(listener.replies) >= 1)
    finally:
        await redis.aclose()
    message = listener.replies[0]["result"]["message"]  # type: ignore[index]
    assert message.startswith("refused: unsupported request version '\\x1b[2Jxxx")
    assert len(message) <= MAX_REPLY_CHARS and "\x1b" not in message
    assert engine.commands == []


async def test_a_client_shows_a_forged_refusal_bounded(
    redis_settings: RedisSettings, redis_server: str
) -> None:
    """Anyone may publish on a reply channel; a refusal is unsigned, so its text is the
    publisher's and must reach the operator cut short and without terminal escapes."""
    keys = EngineKeys(redis_settings.key_prefix, redis_settings.engine_id)
    redis = Redis.from_url(redis_server)
    impostor = redis.pubsub()
    await impostor.subscribe(keys.commands)

    async def refuse_at_length() -> None:
        async for message in impostor.listen():
            if message["type"] == "message":
                request = orjson.loads(message["data"])
                text = "refused: " + "\x1b]0;owned\x07" + "z" * 1_000_000
                forged = {
                    "v": 2,
                    "nonce": request["nonce"],
                    "outcome": "refused",
                    "result": {"ok": False, "message": text, "detail": {}},
                }
                await redis.publish(keys.reply(request["reply_id"]), orjson.dumps(forged))

    task = asyncio.create_task(refuse_at_length())
    try:
        reply = await send(redis_server, keys, Command.PAUSE_ALL)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await impostor.aclose()
        await redis.aclose()
    assert reply.outcome is Outcome.REFUSED
    assert len(reply.result.message) <= MAX_REPLY_CHARS
    assert "\x1b" not in reply.result.message and "\x07" not in reply.result.message


async def test_an_oversized_request_is_dropped_without_parsing_or_answering(
    served: EngineCache, engine: StaticEngine, redis_server: str
) -> None:
    keys = served.commands.keys
    reply_id = "4b" * 16
    padded = {"v": 2, "reply_id": reply_id, "padding": "p" * (MAX_REQUEST_BYTES + 1)}
    redis = Redis.from_url(redis_server)
    try:
        async with ReplyListener(redis, keys.reply(reply_id)) as listener:
            await redis.publish(keys.commands, orjson.dumps(padded))
            await wait_until(lambda: served.commands.refused == 1)
            await asyncio.sleep(0.1)
    finally:
        await redis.aclose()
    assert listener.replies == [] and engine.commands == []
