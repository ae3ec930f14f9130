"""`EngineCache`: the publisher and the command server of one engine, started and stopped
together; what the runtime puts beside a `TradingEngine` when ``redis.url`` is set."""

from __future__ import annotations

from kraken_tui.cache.commands import CommandServer
from kraken_tui.cache.publisher import DEFAULT_RATE_HZ, CachePublisher
from kraken_tui.engine.api import EngineApi
from kraken_tui.settings import RedisSettings


class EngineCache:
    def __init__(
        self,
        engine: EngineApi,
        redis_settings: RedisSettings,
        engine_id: str | None = None,
        *,
        rate_hz: float = DEFAULT_RATE_HZ,
    ) -> None:
        self.publisher = CachePublisher(engine, redis_settings, engine_id, rate_hz=rate_hz)
        self.commands = CommandServer(engine, redis_settings, engine_id)

    @property
    def enabled(self) -> bool:
        return self.publisher.enabled

    async def start(self) -> None:
        """Returns at once; both run as background tasks and survive Redis outages."""
        await self.commands.start()
        await self.publisher.start()

    async def stop(self) -> None:
        await self.publisher.stop()
        await self.commands.stop()
