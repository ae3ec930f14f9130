"""Alerts from a real engine on a real sandbox process, delivered by Apprise to a real HTTP
receiver on loopback: the kill switch, a connection dropped by the sandbox's fault injection,
a strategy error; and a receiver that hangs neither holds up the engine's loop nor loses the
alert."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from alert_receiver import AlertReceiver, alert_receiver
from engine_on_sandbox import QUIET_SMA

from kraken_tui.alerts.alert import AlertLevel
from kraken_tui.cache.remote import RemoteEngine
from kraken_tui.cache.service import EngineCache
from kraken_tui.domain import ConnectionState
from kraken_tui.engine.engine import EngineConfig, TradingEngine
from kraken_tui.exchange_setup import build_exchange, exchange_target
from kraken_tui.notify.daily_summary import daily_summary, next_summary_at
from kraken_tui.notify.service import AlertService
from kraken_tui.sandbox.process import SandboxProcess
from kraken_tui.sandbox.ratelimits import Tier
from kraken_tui.settings import RedisSettings, load_settings
from kraken_tui.store import Store

BOOM = """
from kraken_tui.strategies import BaseStrategy


class Boom(BaseStrategy):
    def on_book(self, book):
        raise ZeroDivisionError("my signal divided by zero")
"""


@dataclass(frozen=True)
class AlertingEngine:
    engine: TradingEngine
    box: SandboxProcess
    receiver: AlertReceiver

    def inject(self, **faults: object) -> None:
        request = urllib.request.Request(
            self.box.rest_url + "/_sandbox/faults",
            data=json.dumps(faults).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).read()


@asynccontextmanager
async def alerting_engine(
    workdir: Path,
    receiver: AlertReceiver,
    strategies: Sequence[Mapping[str, Any]] = (QUIET_SMA,),
    alerts: Mapping[str, Any] | None = None,
) -> AsyncIterator[AlertingEngine]:
    """Wired as the runtime wires it: settings with an [alerts] section, the engine built
    from them, the alert service started before the engine and stopped after it."""
    box = SandboxProcess(
        seed=5,
        rate=20.0,
        state_path=workdir / "sandbox.sqlite3",
        tier=Tier.PRO,
        log_path=workdir / "sandbox.log",
    )
    config = workdir / "kraken_tui.toml"
    config.write_text("")
    async with box:
        overrides = {
            "symbols": ["BTC/USD"],
            "strategies": [dict(s) for s in strategies],
            "strategy_dir": str(workdir),
            "exchange": {
                "rest_url": box.rest_url,
                "ws_url": box.ws_url,
                "ws_auth_url": box.ws_auth_url,
                "api_tier": "pro",
                "dead_man_switch_timeout_s": 0,
            },
            "storage": {"db_path": str(workdir / "engine.sqlite3")},
            "logging": {"dir": str(workdir / "logs")},
            "alerts": {
                "urls": [receiver.url()],
                "timeout_s": 1.0,
                "retry_backoff_s": 0.1,
                **(alerts or {}),
            },
        }
        settings = load_settings(config, overrides=overrides)
        store = await Store.open(settings.storage.db_path)
        try:
            async with exchange_target(settings) as target:
                exchange = build_exchange(settings, target)
                engine = TradingEngine(exchange, store, EngineConfig.from_settings(settings))
                service = AlertService(engine, settings.alerts)
                await service.start()
                await engine.start()
                try:
                    yield AlertingEngine(engine, box, receiver)
                finally:
                    await engine.stop(cancel_open_orders=True)
                    await service.stop()
                    await exchange.close()
        finally:
            await store.close()


async def arrived(receiver: AlertReceiver, prefix: str, timeout_s: float = 20.0) -> dict[str, Any]:
    def has(bodies: list[dict[str, Any]]) -> bool:
        return any(body["title"].startswith(prefix) for body in bodies)

    bodies = await asyncio.to_thread(receiver.wait_for, has, timeout_s)
    return next(body for body in bodies if body["title"].startswith(prefix))


async def delivered(engine: TradingEngine, count: int, timeout_s: float = 10.0) -> None:
    """Delivery outcomes cross back to the loop from the destination's thread."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while engine.snapshot().alerts.delivered < count:
        assert asyncio.get_running_loop().time() < deadline, engine.snapshot().alerts
        await asyncio.sleep(0.02)


async def test_kill_switch_reaches_the_receiver_with_reason_and_orders_cancelled(
    tmp_path: Path,
) -> None:
    with alert_receiver() as receiver:
        async with alerting_engine(tmp_path, receiver) as running:
            engine = running.engine
            result = await engine.kill_switch("drawdown too deep")
            assert result.ok
            body = await arrived(receiver, "Kill switch fired")
            assert body["title"] == "Kill switch fired: drawdown too deep"
            assert "Trading HALTED: 0 orders cancelled, 1 strategies paused" in body["message"]
            assert body["type"] == "failure"
            await delivered(engine, 1)
            alerts = engine.snapshot().alerts
            assert alerts.delivered == 1 and alerts.destinations == 1
            assert alerts.recent[-1].title == body["title"]
        titles = receiver.titles()
    assert not any(t.startswith("Trading HALTED") for t in titles), "the kill switch alerts once"


async def test_a_dropped_connection_is_alerted_once_lost_and_again_once_back(
    tmp_path: Path,
) -> None:
    with alert_receiver() as receiver:
        async with alerting_engine(
            tmp_path, receiver, alerts={"connection_lost_after_s": 0.2}
        ) as running:
            running.inject(drop_ws="all", stall_s=1.5)
            lost = await arrived(receiver, "Exchange connection lost")
            back = await arrived(receiver, "Exchange connection back after")
    assert "orders open" in lost["message"]
    assert back["type"] == "warning"


async def test_a_strategy_error_reaches_the_receiver_with_the_error(tmp_path: Path) -> None:
    (tmp_path / "boom.py").write_text(BOOM)
    boom = {"name": "boom", "class": "boom.py:Boom", "symbol": "BTC/USD", "params": {}}
    with alert_receiver() as receiver:
        async with alerting_engine(tmp_path, receiver, strategies=[boom]):
            body = await arrived(receiver, "Strategy boom")
    assert body["title"] == "Strategy boom (BTC/USD) stopped with an error"
    assert "ZeroDivisionError: my signal divided by zero" in body["message"]


async def test_a_hanging_receiver_neither_holds_up_the_loop_nor_loses_the_alert(
    tmp_path: Path,
) -> None:
    with alert_receiver() as receiver:
        async with alerting_engine(tmp_path, receiver) as running:
            engine = running.engine
            receiver.hang_next(1)
            await engine.kill_switch("test")
            assert await asyncio.to_thread(receiver.hanging.wait, 10)
            handled = engine.events_handled
            turns = 0
            while receiver.hanging.is_set() and turns < 20:
                await asyncio.sleep(0.01)
                turns += 1
            # The loop kept turning and the engine kept handling market data while the
            # destination held the request; then the timed-out attempt was retried.
            assert turns >= 1 and engine.events_handled > handled
            assert (await engine.reset_kill_switch()).ok
            body = await arrived(receiver, "Kill switch fired")
            await delivered(engine, 1)
    assert body["title"] == "Kill switch fired: test"
    assert receiver.requests == 2


async def test_an_attached_console_sees_the_alerts_of_a_headless_engine_signed(
    tmp_path: Path, redis_server: str
) -> None:
    redis = RedisSettings(
        url=redis_server,
        command_secret="correct horse battery staple, and a spare",
        engine_id="alerts-e2e",
        key_prefix=f"kt_alerts_{tmp_path.name}",
    )
    with alert_receiver() as receiver:
        async with alerting_engine(tmp_path, receiver) as running:
            cache = EngineCache(running.engine, redis)
            await cache.start()
            try:
                async with RemoteEngine(redis) as remote:
                    assert await remote.wait_ready(10)
                    await running.engine.kill_switch("remote check")
                    deadline = asyncio.get_running_loop().time() + 10
                    while not remote.snapshot().alerts.recent:
                        assert asyncio.get_running_loop().time() < deadline
                        await asyncio.sleep(0.05)
                    [alert] = remote.snapshot().alerts.recent
                    assert remote.link.state is ConnectionState.CONNECTED
            finally:
                await cache.stop()
    assert alert.title == "Kill switch fired: remote check"
    assert alert.level is AlertLevel.CRITICAL and "Trading HALTED" in alert.detail


def test_the_daily_summary_is_due_at_the_next_configured_utc_time() -> None:
    at = time(8, 0)
    assert next_summary_at(datetime(2026, 5, 1, 7, 59, tzinfo=UTC), at) == datetime(
        2026, 5, 1, 8, 0, tzinfo=UTC
    )
    assert next_summary_at(datetime(2026, 5, 1, 8, 0, tzinfo=UTC), at) == datetime(
        2026, 5, 2, 8, 0, tzinfo=UTC
    )


async def test_the_daily_summary_gives_equity_fills_fees_and_the_days_alerts(
    tmp_path: Path,
) -> None:
    with alert_receiver() as receiver:
        async with alerting_engine(tmp_path, receiver) as running:
            engine = running.engine
            await engine.kill_switch("summary check")
            title, detail = await daily_summary(engine, engine.alerts, engine.clock.now())
    equity = engine.snapshot().portfolio.equity
    assert title.startswith("Daily summary ") and f"equity {equity:.2f} USD" in title
    assert "Fills 0 (0 buys, 0 sells), fees none" in detail
    assert "Alerts 1: 1 CRITICAL; latest: Kill switch fired: summary check" in detail
