"""The Redis ACL recipe of docs/operations.md, on a real redis-server: the engine's user can
publish and serve commands, the operator's can run `ctl` and attach, a viewer can only read,
and the default user is off. The ACL text below is the one the docs show."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from cache_fixtures import COMMAND_SECRET, PrivateRedis, free_port, wait_until
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, NoPermissionError
from static_engine import StaticEngine

from kraken_tui.cache.cli_remote import ctl
from kraken_tui.cache.remote import RemoteEngine
from kraken_tui.cache.service import EngineCache
from kraken_tui.domain import ConnectionState, StrategyState
from kraken_tui.settings import RedisSettings, Settings

USERS_ACL = """\
user default off
user kt-engine on >engine-pw resetkeys ~kraken_tui:prod:* resetchannels &kraken_tui:prod:* -@all +hello +auth +ping +multi +exec +discard +get +set +del +hset +hdel +hgetall +xadd +publish +subscribe +unsubscribe
user kt-operator on >operator-pw resetkeys %R~kraken_tui:* resetchannels &kraken_tui:prod:commands &kraken_tui:prod:reply:* -@all +hello +auth +ping +multi +exec +get +hgetall +xread +xrange +xrevrange +scan +publish +subscribe +unsubscribe
user kt-viewer on >viewer-pw resetkeys %R~kraken_tui:* resetchannels -@all +hello +auth +ping +multi +exec +get +hgetall +xread +xrange +xrevrange +scan
"""  # noqa: E501


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    acl = tmp_path / "users.acl"
    acl.write_text(USERS_ACL)
    server = PrivateRedis(free_port(), tmp_path, ("--aclfile", str(acl)))
    server.start()
    yield server
    server.kill()


def as_user(server: PrivateRedis, user: str, password: str, secret: bool) -> RedisSettings:
    return RedisSettings(
        url=server.url,
        username=user,
        password=SecretStr(password),
        command_secret=SecretStr(COMMAND_SECRET) if secret else None,
        engine_id="prod",
    )


async def test_engine_operator_and_viewer_users_can_do_exactly_their_job(
    acl_redis: PrivateRedis,
) -> None:
    engine = StaticEngine()
    cache = EngineCache(engine, as_user(acl_redis, "kt-engine", "engine-pw", secret=True))
    await cache.start()
    try:
        await asyncio.wait_for(cache.publisher.connected.wait(), 5)
        await asyncio.wait_for(cache.commands.listening.wait(), 5)
        operator = Settings(redis=as_user(acl_redis, "kt-operator", "operator-pw", secret=True))
        out = io.StringIO()
        assert await asyncio.to_thread(ctl, operator, "pause", "sma_cross", out=out) == 0
        assert "ok: sma_cross paused" in out.getvalue()
        assert await asyncio.to_thread(ctl, operator, "status", out=io.StringIO()) == 0

        viewer = as_user(acl_redis, "kt-viewer", "viewer-pw", secret=False)
        async with RemoteEngine(viewer) as remote:
            assert await remote.wait_ready(5)
            await wait_until(lambda: remote.snapshot().strategies == engine.snapshot().strategies)
            assert remote.link.state is ConnectionState.UNVERIFIED
        direct = Redis.from_url(acl_redis.url, username="kt-viewer", password="viewer-pw")
        try:
            with pytest.raises(NoPermissionError):
                await direct.publish("kraken_tui:prod:commands", b"{}")
            with pytest.raises(NoPermissionError):
                await direct.hset("kraken_tui:prod:state", "risk", b"{}")
        finally:
            await direct.aclose()
    finally:
        await cache.stop()
    assert engine.commands == ["pause:sma_cross"]
    assert next(s for s in engine.snapshot().strategies if s.name == "sma_cross").state is (
        StrategyState.PAUSED
    )


async def test_the_default_user_is_off_and_a_wrong_password_is_refused(
    acl_redis: PrivateRedis,
) -> None:
    anonymous = Redis.from_url(acl_redis.url)
    wrong = Redis.from_url(acl_redis.url, username="kt-operator", password="guess")
    try:
        with pytest.raises(AuthenticationError):
            await anonymous.ping()
        with pytest.raises(AuthenticationError):
            await wrong.ping()
    finally:
        await anonymous.aclose()
        await wrong.aclose()
