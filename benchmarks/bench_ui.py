"""Console responsiveness on the real engine and sandbox: idle market against 5,000 book msgs/s.

Each phase runs, in a process of its own, what `scripts/run` runs, headless: the sandbox
exchange as a child process (market at `--rate` book messages/s, 0 for idle), the real
`KrakenExchange` adapter, a real SQLite `Store` and the `TradingEngine` with the default
strategies, all on the console's event loop, and `KrakenTuiApp` in `run_test` at 120x40. The
book is subscribed at depth 1000, so every level the simulation changes reaches the client
(at depth 10 most changes fall outside the subscribed levels and never leave the venue). The
sandbox still coalesces a symbol's changes per pacing tick into one message, so the client
receives fewer messages than the market makes; the rate it receives is printed.

Measured per phase, after a warm-up:
- key latency: `p` is posted through the driver (`app._driver.send_message`, what
  `pilot.press` does, minus its wait for idle) and the clock stops at the first composed
  frame whose strategies row shows the new state (PAUSED or RUNNING). That is key -> binding
  -> engine command -> snapshot -> DataTable -> compositor -> frame handed to the driver; it
  does not include the terminal drawing it. Presses are 30-90 ms apart once the previous one
  has shown, as a person toggling quickly would;
- frames/s: composed frames (non-empty `App._display` calls) per second over a quiet window
  with no key presses, and over the press window;
- client book messages/s: book messages the adapter parsed, per second, over the same window;
- event-loop lag: how late a 5 ms sleep wakes, over both windows: the stalls a key waits behind.

    scripts/bench ui [--presses 60] [--rate 5000] [--depth 1000] [--refresh-hz 15]

The last line is `RESULT {"p99_key_ms_busy": ..., "p99_key_ms_idle": ...,
"busy_to_idle_ratio": ..., "fps_busy": ...}`; targets: busy p99 at most 2x idle, at least
15 frames/s under load.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger
from rich.console import RenderableType
from textual import events
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.screen import Screen

from kraken_tui.domain import Mode, StrategyState
from kraken_tui.engine.engine import EngineConfig, TradingEngine
from kraken_tui.exchange.kraken import KrakenEndpoints, KrakenExchange
from kraken_tui.logging import LogBuffer
from kraken_tui.sandbox.process import SandboxProcess
from kraken_tui.settings import Settings
from kraken_tui.store import Store
from kraken_tui.ui.app import KrakenTuiApp

SIZE = (120, 40)
SYMBOLS = ("BTC/USD", "ETH/USD")
WARM_UP_S = 3.0
QUIET_WINDOW_S = 5.0
SHOW_TIMEOUT_S = 5.0
PHASE_PREFIX = "PHASE "


class FrameTap(KrakenTuiApp):
    """The console, reporting the text of every composed frame line by line."""

    CSS_PATH = Path(inspect.getfile(KrakenTuiApp)).with_name("app.tcss")

    def __init__(self, engine: TradingEngine, refresh_hz: float) -> None:
        super().__init__(engine, mode=Mode.SANDBOX, refresh_hz=refresh_hz)
        self.frames = 0
        self.on_frame: Callable[[Mapping[int, str]], None] | None = None

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        super()._display(screen, renderable)
        if renderable is None or self._batch_count:
            return
        self.frames += 1
        if self.on_frame is not None:
            self.on_frame(frame_lines(renderable))


def frame_lines(renderable: RenderableType) -> dict[int, str]:
    """The text each screen line gets in this update (only lines the update touches)."""
    if isinstance(renderable, ChopsUpdate):
        return {
            y: "".join(strip.text for strip in chop.values() if strip is not None)
            for y, chop in enumerate(renderable.chops)
            if chop
        }
    if isinstance(renderable, LayoutUpdate):
        return {
            y: "".join(strip.text for strip in line)
            for y, line in enumerate(renderable.strips, renderable.region.y)
        }
    return {}


@dataclass
class Phase:
    name: str
    rate: float
    key_ms: list[float] = field(default_factory=list)
    fps_quiet: float = 0.0
    fps_pressing: float = 0.0
    book_msgs_per_s: float = 0.0
    engine_events_per_s: float = 0.0
    max_slice_ms: float = 0.0
    loop_lag_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.key_ms)
        return {
            "presses": len(ordered),
            "median_ms": statistics.median(ordered),
            "p99_ms": percentile(ordered, 0.99),
            "max_ms": ordered[-1],
            "fps_quiet": self.fps_quiet,
            "fps_pressing": self.fps_pressing,
            "client_book_msgs_per_s": self.book_msgs_per_s,
            "engine_events_per_s": self.engine_events_per_s,
            "engine_max_slice_ms": self.max_slice_ms,
            "loop_lag_p99_ms": percentile(sorted(self.loop_lag_ms), 0.99),
            "loop_lag_max_ms": max(self.loop_lag_ms),
        }


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile: with 60 samples p99 is the largest, with 100 the second."""
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


class LoopLag:
    """How late a 5 ms sleep wakes up: the longest the event loop was kept from a ready task,
    whoever kept it (engine, adapter, UI). A key waits behind the same stalls."""

    PERIOD_S = 0.005

    def __init__(self) -> None:
        self.samples_ms: list[float] = []
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.PERIOD_S)
            self.samples_ms.append((time.perf_counter() - started - self.PERIOD_S) * 1000)

    def stop(self) -> list[float]:
        self._task.cancel()
        return self.samples_ms


class BookCounter:
    """Counts book messages the adapter parses, wrapping its own handler."""

    def __init__(self, exchange: KrakenExchange) -> None:
        self.count = 0
        handler = exchange._on_book

        def counting(message: Mapping[str, Any]) -> None:
            self.count += 1
            handler(message)

        exchange._on_book = counting  # type: ignore[method-assign]


async def run_phase(
    phase: Phase, presses: int, depth: int, refresh_hz: float | None, workdir: Path
) -> None:
    settings = Settings(symbols=list(SYMBOLS), book_depth=depth)
    config = EngineConfig.from_settings(settings)
    async with SandboxProcess(seed=7, rate=phase.rate, log_path=workdir / "sandbox.log") as box:
        store = await Store.open(workdir / f"{phase.name}.sqlite3")
        exchange = KrakenExchange(
            KrakenEndpoints(box.rest_url, box.ws_url, box.ws_auth_url),
            api_key=box.api_key,
            api_secret=box.api_secret,
        )
        books = BookCounter(exchange)
        engine = TradingEngine(exchange, store, config, log_buffer=LogBuffer(2000))
        app = FrameTap(engine, refresh_hz or settings.ui.refresh_hz)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await engine.start()
                await asyncio.sleep(WARM_UP_S)
                lag = LoopLag()
                await measure_quiet(app, engine, books, phase)
                await measure_presses(app, engine, books, phase, presses)
                phase.loop_lag_ms = lag.stop()
                await pilot.pause()
        finally:
            await engine.stop(cancel_open_orders=True)
            await exchange.close()
            await store.close()


async def measure_quiet(
    app: FrameTap, engine: TradingEngine, books: BookCounter, phase: Phase
) -> None:
    frames, messages, handled = app.frames, books.count, engine.events_handled
    engine.max_slice_ms = 0.0  # the start-up's slices (warm-up, reconciliation) are not measured
    started = time.perf_counter()
    await asyncio.sleep(QUIET_WINDOW_S)
    elapsed = time.perf_counter() - started
    phase.fps_quiet = (app.frames - frames) / elapsed
    phase.book_msgs_per_s = (books.count - messages) / elapsed
    phase.engine_events_per_s = (engine.events_handled - handled) / elapsed


async def measure_presses(
    app: FrameTap, engine: TradingEngine, books: BookCounter, phase: Phase, presses: int
) -> None:
    strategy = engine.snapshot().strategies[0].name
    row = await strategy_row(app, strategy)
    rng = random.Random(5)
    frames, started = app.frames, time.perf_counter()
    for _ in range(presses):
        paused = current_state(engine, strategy) is StrategyState.PAUSED
        token = "RUNNING" if paused else "PAUSED"
        shown = watch_row(app, row, token)
        pressed = time.perf_counter()
        assert app._driver is not None
        app._driver.send_message(events.Key("p", "p"))
        shown_at = await asyncio.wait_for(shown, SHOW_TIMEOUT_S)
        phase.key_ms.append((shown_at - pressed) * 1000)
        app.on_frame = None
        await asyncio.sleep(rng.uniform(0.03, 0.09))
    phase.fps_pressing = (app.frames - frames) / (time.perf_counter() - started)
    phase.max_slice_ms = engine.max_slice_ms


def watch_row(app: FrameTap, row: int, token: str) -> asyncio.Future[float]:
    """A future set to the time of the first frame whose line `row` contains `token`."""
    shown: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def on_frame(lines: Mapping[int, str]) -> None:
        if token in lines.get(row, "") and not shown.done():
            shown.set_result(time.perf_counter())

    app.on_frame = on_frame
    return shown


async def strategy_row(app: FrameTap, strategy: str) -> int:
    """The screen line of the strategy's row, read from a full repaint."""
    found = asyncio.get_running_loop().create_future()

    def on_frame(lines: Mapping[int, str]) -> None:
        for y, text in lines.items():
            if strategy in text and not found.done():
                found.set_result(y)

    app.on_frame = on_frame
    app.screen.refresh()
    try:
        return await asyncio.wait_for(found, SHOW_TIMEOUT_S)
    finally:
        app.on_frame = None


def current_state(engine: TradingEngine, strategy: str) -> StrategyState:
    return next(s.state for s in engine.snapshot().strategies if s.name == strategy)


def print_phase(phase: Phase) -> None:
    s = phase.summary()
    print(
        f"{phase.name:>4} (market {phase.rate:,.0f} msgs/s): key median {s['median_ms']:.1f} ms, "
        f"p99 {s['p99_ms']:.1f} ms, max {s['max_ms']:.1f} ms over {s['presses']} presses; "
        f"{s['fps_quiet']:.1f} frames/s quiet, {s['fps_pressing']:.1f} while pressing; "
        f"client received {s['client_book_msgs_per_s']:,.0f} book msgs/s, engine handled "
        f"{s['engine_events_per_s']:,.0f} events/s, longest engine slice "
        f"{s['engine_max_slice_ms']:.1f} ms; event loop late by p99 {s['loop_lag_p99_ms']:.1f} ms, "
        f"max {s['loop_lag_max_ms']:.1f} ms",
        flush=True,
    )


async def measure_phase(
    name: str, rate: float, presses: int, depth: int, refresh_hz: float | None
) -> dict[str, float]:
    phase = Phase(name, rate)
    with tempfile.TemporaryDirectory(prefix="bench_ui_") as tmp:
        workdir = Path(tmp)
        os.chdir(workdir)  # Settings() reads no project config; data stays in the scratch dir
        await run_phase(phase, presses, depth, refresh_hz, workdir)
    print_phase(phase)
    return phase.summary()


def run_in_child(args: argparse.Namespace, name: str, rate: float) -> dict[str, float]:
    """One phase in a fresh process, as `scripts/run` is one process per run: nothing the
    other phase left behind (heap, frozen GC generation, threads) skews it."""
    command = [sys.executable, __file__, "--phase", name, "--rate", str(rate)]
    command += ["--presses", str(args.presses), "--depth", str(args.depth)]
    if args.refresh_hz is not None:
        command += ["--refresh-hz", str(args.refresh_hz)]
    child = subprocess.run(command, capture_output=True, text=True, check=False)
    if child.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{child.stdout}{child.stderr}")
    lines = child.stdout.splitlines()
    print("\n".join(line for line in lines if not line.startswith(PHASE_PREFIX)), flush=True)
    summary = next(line for line in lines if line.startswith(PHASE_PREFIX))
    return json.loads(summary.removeprefix(PHASE_PREFIX))


def main(args: argparse.Namespace) -> dict[str, float]:
    idle = run_in_child(args, "idle", 0.0)
    busy = run_in_child(args, "busy", args.rate)
    return {
        "p99_key_ms_busy": round(busy["p99_ms"], 1),
        "p99_key_ms_idle": round(idle["p99_ms"], 1),
        "busy_to_idle_ratio": round(busy["p99_ms"] / idle["p99_ms"], 2),
        "fps_busy": round(busy["fps_quiet"], 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=60)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--depth", type=int, choices=(10, 25, 100, 500, 1000), default=1000)
    parser.add_argument(
        "--refresh-hz", type=float, default=None, help="default: the settings' ui.refresh_hz"
    )
    parser.add_argument("--phase", choices=("idle", "busy"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    logger.remove()
    if args.phase is not None:
        summary = asyncio.run(
            measure_phase(args.phase, args.rate, args.presses, args.depth, args.refresh_hz)
        )
        print(PHASE_PREFIX + json.dumps(summary), flush=True)
    else:
        print("RESULT " + json.dumps(main(args)), flush=True)
