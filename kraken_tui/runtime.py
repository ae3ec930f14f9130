"""Process lifetime: exchange, store and engine up, then the console or headless, then down.

SIGINT and SIGTERM are operator requests to stop, so they end the run with exit code 0 after a
clean shutdown: strategies stop, open orders are cancelled or left under the exchange's dead
man's switch (`risk.cancel_on_shutdown`), queued writes are flushed and the store is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from kraken_tui.alerts.alert import AlertKind, AlertLevel
from kraken_tui.cache.service import EngineCache
from kraken_tui.domain import Mode
from kraken_tui.engine.engine import EngineConfig, TradingEngine
from kraken_tui.exchange.protocol import ExchangeError
from kraken_tui.exchange_setup import (
    ExchangeSetupError,
    ExchangeTarget,
    build_exchange,
    exchange_target,
)
from kraken_tui.logging import LogHandles
from kraken_tui.notify.service import AlertService
from kraken_tui.recording.recorder import FlightRecorder
from kraken_tui.recording.recording_file import RecordingHeader
from kraken_tui.settings import Settings
from kraken_tui.store import Store, StoreError

if TYPE_CHECKING:
    from kraken_tui.ui.app import KrakenTuiApp

EXIT_OK = 0
EXIT_RUNTIME_FAILURE = 1


def run(
    settings: Settings,
    headless: bool,
    duration: float | None,
    logs: LogHandles,
    record_to: Path | None = None,
) -> int:
    """Run the app in this process and return its exit code; with `record_to`, the flight
    recorder writes the session's exchange traffic there."""
    runner = _run_headless if headless else _run_console
    try:
        return asyncio.run(runner(settings, duration, logs, record_to))
    except StoreError as error:
        logger.error("cannot open the store {}: {}", settings.storage.db_path, error)
        return EXIT_RUNTIME_FAILURE
    except (ExchangeSetupError, ExchangeError) as error:
        logger.error("kraken-tui cannot run: {}", error)
        if not headless:
            print(f"kraken-tui: {error}")
        return EXIT_RUNTIME_FAILURE


class _Running:
    """The engine of this run and, beside it, its alert delivery and its Redis cache (both
    inert when not configured)."""

    def __init__(
        self, engine: TradingEngine, alerts: AlertService, cache: EngineCache, settings: Settings
    ) -> None:
        self.engine = engine
        self.alerts = alerts
        self.cache = cache
        self.settings = settings

    async def start(self) -> None:
        """Alerts first, so what the start itself finds (a reconciliation mismatch, a HALTED
        state kept from the last run) reaches people too."""
        await self.alerts.start()
        await self.engine.start()
        if self.settings.mode is Mode.LIVE:
            _alert_live_mode(self.engine, self.settings)
        await self.cache.start()


def _alert_live_mode(engine: TradingEngine, settings: Settings) -> None:
    snapshot = engine.snapshot()
    venue = settings.live_host_override() or "Kraken"
    engine.alerts.raise_alert(
        AlertLevel.WARNING,
        AlertKind.LIVE_MODE,
        f"LIVE trading started on {venue}",
        f"{len(snapshot.strategies)} strategies on {', '.join(snapshot.symbols)}; equity "
        f"{snapshot.portfolio.equity:.2f} {snapshot.portfolio.quote_ccy}; trading "
        f"{snapshot.risk.trading_state}",
    )


@asynccontextmanager
async def _running_engine(
    settings: Settings, logs: LogHandles, record_to: Path | None
) -> AsyncIterator[_Running]:
    """Store, exchange target and engine, torn down in reverse order whatever happens. The
    store opens first: a database this version cannot use must stop the run before anything
    connects to an exchange."""
    store = await Store.open(settings.storage.db_path)
    try:
        async with exchange_target(settings) as target:
            exchange = build_exchange(settings, target)
            exchange.use_account_fees_for(settings.traded_symbols())
            recorder = _recorder(settings, target, record_to) if record_to else None
            exchange.set_traffic_sink(recorder)
            engine = TradingEngine(
                exchange, store, EngineConfig.from_settings(settings), log_buffer=logs.buffer
            )
            logger.info("kraken-tui {} mode, trading on the {}", settings.mode, target.description)
            if target.live_host_override is not None:
                logger.warning(
                    "LIVE endpoints overridden: override host {} takes real orders with your "
                    "Kraken keys",
                    target.live_host_override,
                )
            cache = EngineCache(engine, settings.redis)
            alerts = AlertService(engine, settings.alerts)
            try:
                yield _Running(engine, alerts, cache, settings)
            finally:
                await cache.stop()
                await engine.stop(cancel_open_orders=settings.risk.cancel_on_shutdown)
                await alerts.stop()
                await exchange.close()
                if recorder is not None:
                    recorder.close()
    finally:
        await store.close()
        logger.info("store closed")


def _recorder(settings: Settings, target: ExchangeTarget, path: Path) -> FlightRecorder:
    """Both connections are recorded in every mode: in sandbox and paper mode the private
    traffic is the sandbox's own account, and it is what makes a recording replayable into
    the same orders and fills."""
    header = RecordingHeader(
        mode=str(settings.mode),
        started=datetime.now(UTC).isoformat(),
        symbols=settings.traded_symbols(),
        book_depth=settings.book_depth,
    )
    secrets = [target.api_key, target.api_secret, *settings.secret_values()]
    logger.info("flight recorder on: writing the exchange traffic to {}", path)
    return FlightRecorder(path, header, secrets)


async def _run_headless(
    settings: Settings, duration: float | None, logs: LogHandles, record_to: Path | None
) -> int:
    stop = _stop_on_signals()
    logger.info("kraken-tui starting headless, logging to {}", logs.file_path)
    async with _running_engine(settings, logs, record_to) as running:
        await running.start()
        try:
            await asyncio.wait_for(stop.wait(), timeout=duration)
        except TimeoutError:
            logger.info("run duration of {}s elapsed, shutting down", duration)
    logger.info("kraken-tui stopped")
    return EXIT_OK


async def _run_console(
    settings: Settings, duration: float | None, logs: LogHandles, record_to: Path | None
) -> int:
    from kraken_tui.ui.app import KrakenTuiApp

    async with _running_engine(settings, logs, record_to) as running:
        app = KrakenTuiApp(
            running.engine,
            mode=Mode(settings.mode),
            refresh_hz=settings.ui.refresh_hz,
            backtests=running.engine.store.backtests,
        )
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, app.exit)
        starter = asyncio.create_task(_start_in_background(running, app), name="engine start")
        if duration is not None:
            loop.call_later(duration, app.exit)
        await app.run_async()
        starter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starter
    return EXIT_OK


async def _start_in_background(running: _Running, app: KrakenTuiApp) -> None:
    """The console is on screen at once and shows the engine connecting; a failed start is
    logged (and so shown in the log panel) instead of leaving a dead screen."""
    try:
        await running.start()
    except asyncio.CancelledError:
        raise
    except Exception as error:
        logger.opt(exception=True).critical("engine failed to start: {}", error)
        app.notify(f"Engine failed to start: {error}", severity="error", timeout=30)


def _stop_on_signals() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM, installed before anything is opened."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def request_stop(signum: signal.Signals) -> None:
        logger.info("received {}, shutting down", signum.name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, request_stop, signum)
    return stop
