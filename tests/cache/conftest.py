"""Fixtures for the Redis layer: settings pointing at the session's real redis-server (one
engine id per test, so tests never see each other's keys), an engine running beside its
publisher and command server, and a private redis-server a test may kill and restart."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cache_fixtures import COMMAND_SECRET, KEY_PREFIX, PrivateRedis, free_port
from pydantic import SecretStr
from static_engine import StaticEngine

from kraken_tui.cache.service import EngineCache
from kraken_tui.settings import RedisSettings, Settings


@pytest.fixture
def engine_id() -> str:
    return f"e{secrets.token_hex(4)}"


@pytest.fixture
def redis_settings(redis_server: str, engine_id: str) -> RedisSettings:
    return RedisSettings(
        url=redis_server,
        command_secret=SecretStr(COMMAND_SECRET),
        engine_id=engine_id,
        key_prefix=KEY_PREFIX,
    )


@pytest.fixture
def settings(redis_settings: RedisSettings) -> Settings:
    return Settings(redis=redis_settings)


@pytest.fixture
def engine() -> StaticEngine:
    return StaticEngine()


@pytest.fixture
async def served(engine: StaticEngine, redis_settings: RedisSettings) -> AsyncIterator[EngineCache]:
    """The engine published and accepting signed commands; ready when the fixture yields."""
    cache = EngineCache(engine, redis_settings)
    await cache.start()
    await asyncio.wait_for(cache.publisher.connected.wait(), 5)
    await asyncio.wait_for(cache.commands.listening.wait(), 5)
    yield cache
    await cache.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    yield server
    if server.process is not None:
        server.kill()
