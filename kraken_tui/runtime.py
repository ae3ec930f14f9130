"""Process lifetime: open the store, run until ``--duration`` or a signal, close cleanly.

At this stage only persistence and logging run; the engine and the console plug in here.
SIGINT and SIGTERM are operator requests to stop, so they end the run with exit code 0.
"""

from __future__ import annotations

import asyncio
import signal

from loguru import logger

from kraken_tui.logging import LogHandles
from kraken_tui.settings import Settings
from kraken_tui.store import Store, StoreError

EXIT_OK = 0
EXIT_RUNTIME_FAILURE = 1


def run(settings: Settings, headless: bool, duration: float | None, logs: LogHandles) -> int:
    """Run the app in this process and return its exit code."""
    if not headless:
        message = "the trading console is not available yet; run headless with --no-ui"
        logger.error(message)
        print(f"kraken-tui: {message}")
        return EXIT_RUNTIME_FAILURE
    return asyncio.run(_run_headless(settings, duration, logs))


async def _run_headless(settings: Settings, duration: float | None, logs: LogHandles) -> int:
    stop = _stop_on_signals()
    logger.info(
        "kraken-tui starting headless in {} mode, logging to {}", settings.mode, logs.file_path
    )
    try:
        store = await Store.open(settings.storage.db_path)
    except StoreError as error:
        logger.error("cannot open the store {}: {}", settings.storage.db_path, error)
        return EXIT_RUNTIME_FAILURE
    try:
        logger.warning(
            "engine not wired yet: only the store ({}) and logging are running",
            settings.storage.db_path,
        )
        try:
            await asyncio.wait_for(stop.wait(), timeout=duration)
        except TimeoutError:
            logger.info("run duration of {}s elapsed, shutting down", duration)
    finally:
        await store.close()
        logger.info("store closed; kraken-tui stopped")
    return EXIT_OK


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
