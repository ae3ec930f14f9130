"""Instrument metadata cached in Redis with a TTL, so a restarting engine can skip the
AssetPairs REST call (and its rate-limit cost). Strictly best effort: any Redis problem reads
as a cache miss and the caller asks the exchange as it would without Redis."""

from __future__ import annotations

from collections.abc import Mapping

from loguru import logger

from kraken_tui.cache.codec import CodecError, decode_instruments, encode_instruments
from kraken_tui.cache.connection import REDIS_FAILURES, open_redis
from kraken_tui.cache.keys import instruments_key
from kraken_tui.domain import Instrument
from kraken_tui.settings import RedisSettings

DEFAULT_TTL_S = 3600
LOOKUP_TIMEOUT_S = 1.0


async def get_cached_instruments(
    settings: RedisSettings, venue: str
) -> dict[str, Instrument] | None:
    """The instruments cached for `venue` (e.g. the REST base URL), or None on a miss, when
    Redis is not configured or not reachable within about a second."""
    if not settings.url:
        return None
    redis = open_redis(settings, socket_timeout_s=LOOKUP_TIMEOUT_S)
    try:
        payload = await redis.get(instruments_key(settings.key_prefix, venue))
    except REDIS_FAILURES as exc:
        logger.warning("instrument cache unavailable ({}); asking the exchange", exc)
        return None
    finally:
        await redis.aclose()
    if payload is None:
        return None
    try:
        return decode_instruments(payload)
    except CodecError as exc:
        logger.warning("instrument cache for {} unreadable ({}); asking the exchange", venue, exc)
        return None


async def cache_instruments(
    settings: RedisSettings,
    venue: str,
    instruments: Mapping[str, Instrument],
    ttl_s: int = DEFAULT_TTL_S,
) -> bool:
    """Store `instruments` for `venue` for `ttl_s` seconds; False when Redis is unavailable."""
    if not settings.url:
        return False
    redis = open_redis(settings, socket_timeout_s=LOOKUP_TIMEOUT_S)
    try:
        await redis.set(
            instruments_key(settings.key_prefix, venue), encode_instruments(instruments), ex=ttl_s
        )
    except REDIS_FAILURES as exc:
        logger.warning("instrument cache not written ({})", exc)
        return False
    finally:
        await redis.aclose()
    return True
