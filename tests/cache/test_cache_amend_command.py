"""The signed `amend_order` command through a real redis-server: the attached console's
amend reaches the engine with its exact numbers, and nonsense is refused before it."""

from __future__ import annotations

from decimal import Decimal

from cache_fixtures import COMMAND_SECRET, wait_until
from redis.asyncio import Redis
from static_engine import StaticEngine

from kraken_tui.cache.commands import Command, CommandClient, Outcome
from kraken_tui.cache.remote import RemoteEngine
from kraken_tui.cache.service import EngineCache
from kraken_tui.settings import RedisSettings


async def test_an_amend_from_the_attached_console_changes_the_order_with_its_exact_numbers(
    served: EngineCache, engine: StaticEngine, redis_settings: RedisSettings
) -> None:
    async with RemoteEngine(redis_settings) as remote:
        assert await remote.wait_ready(5)
        assert remote.preview_amend("sma-0001", price=Decimal("64180.0")).allowed
        off_tick = remote.preview_amend("sma-0001", price=Decimal("64180.05"))
        assert off_tick.reason == "EOrder:Tick size check failed"
        assert remote.preview_amend("no-such-order", price=Decimal("1")).rule == "unknown_order"
        result = await remote.amend_order(
            "sma-0001", price=Decimal("64180.0"), volume=Decimal("0.12000000")
        )
        assert result.ok, result.message
        await wait_until(
            lambda: any(
                o.cl_ord_id == "sma-0001" and o.price == Decimal("64180.0")
                for o in remote.snapshot().open_orders
            )
        )
    [amended] = [o for o in engine.snapshot().open_orders if o.cl_ord_id == "sma-0001"]
    assert str(amended.volume) == "0.12000000"
    assert engine.commands == ["amend:sma-0001:64180.0:0.12000000"]


async def test_an_amend_with_an_unreadable_number_is_refused_without_reaching_the_engine(
    served: EngineCache, engine: StaticEngine, redis_server: str
) -> None:
    redis = Redis.from_url(redis_server)
    client = CommandClient(redis, served.commands.keys, COMMAND_SECRET)
    try:
        for bad in ("abc", "-5", "NaN", 7):
            args = {"cl_ord_id": "sma-0001", "price": bad, "volume": None}
            reply = await client.send(Command.AMEND_ORDER, args, timeout_s=3)
            assert reply.outcome is Outcome.FAILED, bad
            assert "is not a positive number" in reply.result.message
    finally:
        await client.close()
        await redis.aclose()
    assert engine.commands == []
