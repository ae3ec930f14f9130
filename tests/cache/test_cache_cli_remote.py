"""`ctl` and `engines` end to end: an engine published with its command server running in this
test's loop, the command-line functions run in a worker thread (they own their own loop, as
they do under the real CLI), and once the real `kraken-tui ctl` subprocess."""

from __future__ import annotations

import asyncio
import io
import subprocess
from collections.abc import Callable
from dataclasses import replace

from cache_fixtures import COMMAND_SECRET, WRONG_SECRET, free_port
from pydantic import SecretStr
from redis.asyncio import Redis
from static_engine import StaticEngine

from kraken_tui.cache.cli_remote import attach, ctl, list_engines
from kraken_tui.cache.codec import encode
from kraken_tui.cache.publisher import CachePublisher
from kraken_tui.cache.service import EngineCache
from kraken_tui.domain import StrategyState, TradingState
from kraken_tui.settings import RedisSettings, Settings


async def run_ctl(
    settings: Settings, *args: str | None, timeout_s: float = 3.0
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    verb, name, engine_id = (*args, None, None)[:3]
    assert verb is not None
    code = await asyncio.to_thread(
        ctl, settings, verb, name, engine_id, timeout_s, out=out, err=err
    )
    return code, out.getvalue(), err.getvalue()


def states(engine: StaticEngine) -> dict[str, StrategyState]:
    return {s.name: s.state for s in engine.snapshot().strategies}


async def test_ctl_status_prints_the_engine_and_its_strategies(
    served: EngineCache, settings: Settings
) -> None:
    code, out, err = await run_ctl(settings, "status")
    assert code == 0, err
    assert f"engine {settings.redis.engine_id}: running, sandbox mode" in out
    assert "remote control: enabled" in out
    assert "state: verified" in out
    assert "trading: ACTIVE; equity 100482.37 USD" in out
    assert "open orders: 3; positions: 2" in out
    for name in ("sma_cross", "rsi_revert", "grid_btc"):
        assert name in out


async def test_ctl_status_does_not_print_a_forged_state_as_the_engines(
    served: EngineCache, engine: StaticEngine, settings: Settings, redis_server: str
) -> None:
    halted = replace(engine.snapshot().risk, trading_state=TradingState.HALTED, reason="forged")
    redis = Redis.from_url(redis_server)
    try:
        await redis.hset(served.publisher.keys.state, "risk", encode(halted))
    finally:
        await redis.aclose()
    code, out, err = await run_ctl(settings, "status")
    assert code == 0, err
    assert "state: UNVERIFIED: the published state failed its signature check" in out
    assert "HALTED" not in out and "forged" not in out


async def test_ctl_pause_and_resume_a_strategy(
    served: EngineCache, engine: StaticEngine, settings: Settings
) -> None:
    code, out, err = await run_ctl(settings, "pause", "sma_cross")
    assert code == 0, err
    assert f"engine {settings.redis.engine_id}: pause sma_cross acknowledged in" in out
    assert "ok: sma_cross paused" in out
    assert states(engine)["sma_cross"] is StrategyState.PAUSED
    code, out, _ = await run_ctl(settings, "resume", "rsi_revert")
    assert code == 0 and "ok: rsi_revert running" in out
    assert states(engine)["rsi_revert"] is StrategyState.RUNNING


async def test_ctl_pause_all_and_resume_all(
    served: EngineCache, engine: StaticEngine, settings: Settings
) -> None:
    code, out, _ = await run_ctl(settings, "pause-all")
    assert code == 0 and "ok: all strategies paused" in out
    assert set(states(engine).values()) == {StrategyState.PAUSED}
    code, out, _ = await run_ctl(settings, "resume-all")
    assert code == 0 and "ok: all strategies resumed" in out
    assert set(states(engine).values()) == {StrategyState.RUNNING}


async def test_ctl_kill_then_reset_kill(
    served: EngineCache, engine: StaticEngine, settings: Settings
) -> None:
    code, out, _ = await run_ctl(settings, "kill")
    assert code == 0 and "ok: trading HALTED, 3 orders canceled" in out
    assert engine.snapshot().risk.trading_state is TradingState.HALTED
    assert engine.snapshot().risk.reason == "kill switch: ctl"
    code, out, _ = await run_ctl(settings, "reset-kill")
    assert code == 0 and "ok: trading ACTIVE" in out
    code, _, err = await run_ctl(settings, "reset-kill")
    assert code == 1 and "failed: kill switch is not engaged" in err


async def test_ctl_cancel_all(
    served: EngineCache, engine: StaticEngine, settings: Settings
) -> None:
    code, out, _ = await run_ctl(settings, "cancel-all")
    assert code == 0 and "ok: 3 orders canceled" in out
    assert engine.snapshot().open_orders == ()


async def test_ctl_unknown_strategy_exits_2(
    served: EngineCache, engine: StaticEngine, settings: Settings
) -> None:
    code, out, err = await run_ctl(settings, "pause", "no_such")
    assert code == 2 and "pause no_such acknowledged" in out
    assert "unknown strategy: no strategy named 'no_such'" in err
    assert engine.commands == []


async def test_ctl_unknown_engine_exits_2(served: EngineCache, settings: Settings) -> None:
    code, _, err = await run_ctl(settings, "pause-all", None, "ghost")
    assert code == 2 and "no engine 'ghost' is running" in err
    code, _, err = await run_ctl(settings, "status", None, "ghost")
    assert code == 2


async def test_ctl_without_an_answer_in_time_exits_1(
    engine: StaticEngine, settings: Settings, redis_server: str
) -> None:
    """A live heartbeat and a subscriber on the command channel that never answers."""
    publisher = CachePublisher(engine, settings.redis)
    await publisher.start()
    redis = Redis.from_url(redis_server)
    silent = redis.pubsub()
    await silent.subscribe(publisher.keys.commands)
    try:
        await asyncio.wait_for(publisher.connected.wait(), 5)
        code, _, err = await run_ctl(settings, "kill", timeout_s=0.5)
    finally:
        await silent.aclose()
        await redis.aclose()
        await publisher.stop()
    assert code == 1
    assert f"no answer from engine '{settings.redis.engine_id}' within 0.5 s" in err
    assert "waiting for an acknowledgement to kill_switch" in err


async def test_ctl_with_the_wrong_secret_is_refused_with_exit_2(
    served: EngineCache, engine: StaticEngine, settings: Settings
) -> None:
    wrong = settings.model_copy(
        update={
            "redis": settings.redis.model_copy(update={"command_secret": SecretStr(WRONG_SECRET)})
        }
    )
    code, _, err = await run_ctl(wrong, "kill")
    assert code == 2 and "refused: bad signature" in err
    assert engine.snapshot().risk.trading_state is TradingState.ACTIVE


async def test_ctl_to_an_engine_without_remote_control_exits_2(
    engine: StaticEngine, settings: Settings
) -> None:
    publisher = CachePublisher(engine, settings.redis)
    await publisher.start()
    try:
        await asyncio.wait_for(publisher.connected.wait(), 5)
        code, _, err = await run_ctl(settings, "pause-all")
    finally:
        await publisher.stop()
    assert code == 2 and "not listening for commands" in err


async def test_ctl_usage_errors_exit_2_before_touching_redis(settings: Settings) -> None:
    no_secret = settings.model_copy(
        update={"redis": settings.redis.model_copy(update={"command_secret": None})}
    )
    assert (await run_ctl(no_secret, "kill"))[0] == 2
    assert "redis.command_secret" in (await run_ctl(no_secret, "kill"))[2]
    assert (await run_ctl(settings, "pause"))[0] == 2
    assert (await run_ctl(settings, "explode"))[0] == 2
    assert (await run_ctl(Settings(), "status"))[0] == 2


async def test_ctl_with_redis_unreachable_exits_1(settings: Settings) -> None:
    down = settings.model_copy(
        update={
            "redis": settings.redis.model_copy(
                update={
                    "url": f"redis://127.0.0.1:{free_port()}/0",
                    "password": SecretStr("hunter2"),
                }
            )
        }
    )
    code, _, err = await run_ctl(down, "status")
    assert code == 1 and "cannot reach Redis at redis://127.0.0.1:" in err
    assert "hunter2" not in err


async def test_engines_lists_every_live_engine(
    served: EngineCache, settings: Settings, redis_settings: RedisSettings
) -> None:
    other = EngineCache(StaticEngine(), redis_settings.model_copy(update={"engine_id": "zz-other"}))
    await other.start()
    try:
        await asyncio.wait_for(other.publisher.connected.wait(), 5)
        out = io.StringIO()
        code = await asyncio.to_thread(list_engines, settings, out=out)
    finally:
        await other.stop()
    lines = out.getvalue().splitlines()
    ids = [line.split()[0] for line in lines]
    assert code == 0
    assert settings.redis.engine_id in ids and "zz-other" in ids
    assert ids == sorted(ids)


async def test_the_real_cli_pauses_a_strategy(
    served: EngineCache,
    engine: StaticEngine,
    redis_settings: RedisSettings,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    env = {
        "KRAKEN_TUI_REDIS__URL": str(redis_settings.url),
        "KRAKEN_TUI_REDIS__COMMAND_SECRET": COMMAND_SECRET,
        "KRAKEN_TUI_REDIS__ENGINE_ID": redis_settings.engine_id,
        "KRAKEN_TUI_REDIS__KEY_PREFIX": redis_settings.key_prefix,
    }
    done = await asyncio.to_thread(run_cli, "ctl", "pause", "sma_cross", env=env)
    assert done.returncode == 0, done.stderr
    assert "ok: sma_cross paused" in done.stdout
    assert states(engine)["sma_cross"] is StrategyState.PAUSED
    missing = await asyncio.to_thread(run_cli, "ctl", "pause", "nope", env=env)
    assert missing.returncode == 2


async def test_attach_to_an_engine_that_is_not_running_exits_2(settings: Settings) -> None:
    err = io.StringIO()
    code = await asyncio.to_thread(attach, settings, "ghost", err=err)
    assert code == 2 and "no engine 'ghost' is running" in err.getvalue()
    assert await asyncio.to_thread(attach, Settings(), None, err=io.StringIO()) == 2


async def test_attach_with_another_secret_exits_2_saying_the_state_does_not_verify(
    served: EngineCache, settings: Settings
) -> None:
    wrong = settings.model_copy(
        update={
            "redis": settings.redis.model_copy(update={"command_secret": SecretStr(WRONG_SECRET)})
        }
    )
    err = io.StringIO()
    code = await asyncio.to_thread(attach, wrong, None, err=err)
    assert code == 2
    assert "engine state failed its signature check" in err.getvalue()
    assert "is redis.command_secret the engine's?" in err.getvalue()
