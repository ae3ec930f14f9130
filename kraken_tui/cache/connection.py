"""Opening a Redis client from settings, with the timeouts that keep a dead Redis from
hanging anyone for long."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from kraken_tui.settings import RedisSettings

CONNECT_TIMEOUT_S = 2.0
SOCKET_TIMEOUT_S = 5.0

REDIS_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
"""What a lost, restarted or unreachable Redis raises through redis-py."""


class CacheNotConfigured(Exception):
    """`redis.url` is unset: there is no cache to publish to or attach through."""


def open_redis(
    settings: RedisSettings, *, socket_timeout_s: float | None = SOCKET_TIMEOUT_S
) -> Redis:
    """A client using the ACL user and password from settings. redis-py's own retries are off:
    each caller has its own policy (the publisher backs off, `ctl` fails fast)."""
    if not settings.url:
        raise CacheNotConfigured("redis.url is not set")
    password = settings.password.get_secret_value() if settings.password is not None else None
    return Redis.from_url(
        settings.url,
        username=settings.username,
        password=password,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=socket_timeout_s,
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )
