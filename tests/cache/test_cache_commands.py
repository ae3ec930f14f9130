"""Signed remote commands through a real redis-server: what is executed, what is refused."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import orjson
import pytest
from cache_fixtures import COMMAND_SECRET, wait_until
from pydantic import SecretStr
from redis.asyncio import Redis

from kraken_tui.cache.commands import (
    Command,
    CommandClient,
    CommandServer,
    EngineNotListening,
    Outcome,
    command_request,
    manual_order_args,
    sign,
    signature_valid,
)
from kraken_tui.cache.keys import EngineKeys
from kraken_tui.cache.service import EngineCache
from kraken_tui.domain import OrderType, Side, StrategyState, TradingState
from kraken_tui.engine.api import ManualOrder
from kraken_tui.settings import RedisSettings
from kraken_tui.ui.fixtures import StaticEngine


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


def test_the_signature_covers_every_field_and_ignores_key_order() -> None:
    request = command_request(
        Command.PAUSE, {"strategy": "a"}, engine_id="e1", reply_id="ab" * 8, secret="s"
    )
    reordered = dict(reversed(list(request.items())))
    assert signature_valid(reordered, "s")
    assert not signature_valid(request, "other secret")
    for field, value in [
        ("args", {"strategy": "b"}),
        ("engine_id", "e2"),
        ("ts_ms", 1),
        ("nonce", "cd" * 8),
    ]:
        assert not signature_valid({**request, field: value}, "s")
    assert sign(request, "s") == request["sig"]


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
        redis_server, served.commands.keys, Command.KILL_SWITCH, {"reason": "x"}, secret="guess"
    )
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
        Command.PAUSE_ALL, {}, engine_id=keys.engine_id, reply_id=reply_id, secret=COMMAND_SECRET
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
        Command.CANCEL_ALL, {}, engine_id=keys.engine_id, reply_id="1e" * 16, secret=COMMAND_SECRET
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
        Command.CANCEL_ALL, {}, engine_id=keys.engine_id, reply_id=reply_id, secret=COMMAND_SECRET,
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
                    "v": 1,
                    "nonce": request["nonce"],
                    "engine_id": keys.engine_id,
                    "outcome": "ok",
                    "result": {"ok": True, "message": "done", "detail": {}},
                }
                forged["sig"] = sign(forged, "not the secret")
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
        StaticEngine(), redis_settings.model_copy(update={"command_secret": SecretStr("x")})
    )
    assert server.enabled
    assert not CommandServer(
        StaticEngine(), redis_settings.model_copy(update={"url": None})
    ).enabled
