"""Remote control and attach latency through a real redis-server, under market load.

Three processes on this machine, as in production: a private redis-server on a free loopback
port; a headless engine (the real `TradingEngine` on the sandbox venue, a synthetic market
pumped at `--rate` book messages/s, strategies `sma_btc`, `sma_eth` and `mm_eth`, a real
SQLite store) with its `CachePublisher` and `CommandServer`; and this process, attached as a
console would be (`RemoteEngine`) and sending commands as `ctl` does.

Measured in the same run:
- remote command: `pause`/`resume sma_btc` alternately through a signed `CommandClient` (one
  persistent connection, as an attached console has): time to the acknowledgement and to the
  result; plus whole `ctl()` calls (new connection, heartbeat check, subscribe, send), each in
  a fresh event loop as the CLI runs it;
- local command: inside the engine process, `await engine.pause/resume("sma_eth")` alternately
  on the engine's own loop (the path an in-process console takes);
- state lag: after each remote command's result arrives (the engine has applied the change by
  then), the time until the attached `RemoteEngine` shows the new strategy state, polled
  every 1 ms; this includes waiting for the publisher's next 20 Hz tick (0-50 ms), which is
  the coalescing the design chooses;
- book age: every new BTC/USD book the console shows, now minus the venue's timestamp of
  that book (exchange change -> engine -> publish -> Redis -> console), sampled every 2 ms
  (same host, so both ends read the same clock).

    scripts/bench remote [--rate 5000] [--commands 200] [--ctl-calls 30]

The last line is `RESULT {"p99_command_ms": ..., "p99_state_lag_ms": ...,
"local_p99_command_ms": ...}`, where `p99_command_ms` is the remote round trip to the
result (a stricter figure than to the acknowledgement, which is also printed).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from kraken_tui.cache.cli_remote import ctl
from kraken_tui.cache.commands import Command, CommandClient
from kraken_tui.cache.connection import open_redis
from kraken_tui.cache.remote import RemoteEngine
from kraken_tui.domain import StrategyState
from kraken_tui.settings import RedisSettings, Settings

SECRET = "bench secret, long enough for hmac-sha256"
ENGINE_ID = "bench"
KEY_PREFIX = "kt_bench"
TEST_SUPPORT = Path(__file__).resolve().parents[1] / "tests" / "support"
"""Where the engine child finds `SimulatedExchange`: a test double, kept outside the product."""


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<30} n={len(values):<5} median {statistics.median(values):7.2f}  "
        f"p99 {percentile(values, 99):7.2f}  max {max(values):7.2f} ms"
    )


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings(
        url=url, command_secret=SecretStr(SECRET), engine_id=ENGINE_ID, key_prefix=KEY_PREFIX
    )


# -- engine process -----------------------------------------------------------------------------


async def run_engine(url: str, rate: float, workdir: Path) -> None:
    """The headless engine: trades until stdin closes, then prints its own measurements."""
    from kraken_tui.cache.service import EngineCache
    from kraken_tui.clock import WallClock
    from kraken_tui.engine.engine import EngineConfig, TradingEngine
    from kraken_tui.logging import LogBuffer
    from kraken_tui.sandbox.market import MarketSimulator
    from kraken_tui.settings import StrategyConfig
    from kraken_tui.store import Store

    sys.path.insert(0, str(TEST_SUPPORT))
    from simulated_exchange import SimulatedExchange

    exchange = SimulatedExchange.create(WallClock())
    market = MarketSimulator(exchange.venue, seed=11, rate=rate)
    market.step(time.time())
    store = await Store.open(workdir / "engine.sqlite3")
    config = EngineConfig(
        symbols=("BTC/USD", "ETH/USD"),
        strategies=(
            StrategyConfig(name="sma_btc", class_name="sma_cross", symbol="BTC/USD"),
            StrategyConfig(name="sma_eth", class_name="sma_cross", symbol="ETH/USD"),
            StrategyConfig(name="mm_eth", class_name="market_maker", symbol="ETH/USD"),
        ),
    )
    engine = TradingEngine(exchange, store, config, log_buffer=LogBuffer(2000))
    await engine.start()
    cache = EngineCache(engine, redis_settings(url))
    await cache.start()
    await asyncio.wait_for(cache.commands.listening.wait(), 10)

    async def pump() -> None:
        while True:
            await asyncio.sleep(0.005)
            market.step(time.time())

    local_ms: list[float] = []

    async def local_commands() -> None:
        rng = random.Random(3)
        pause = True
        while True:
            await asyncio.sleep(rng.uniform(0.02, 0.06))
            started = time.perf_counter()
            result = await (engine.pause if pause else engine.resume)("sma_eth")
            local_ms.append((time.perf_counter() - started) * 1000)
            assert result.ok, result.message
            pause = not pause

    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    events_before, started = market.book_events, time.monotonic()
    handled_before = engine.events_handled
    tasks = [asyncio.create_task(pump()), asyncio.create_task(local_commands())]
    print("ready", flush=True)
    await stdin_closed
    elapsed = time.monotonic() - started
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    report = {
        "local_ms": local_ms,
        "book_msgs_per_s": (market.book_events - events_before) / elapsed,
        "engine_events_per_s": (engine.events_handled - handled_before) / elapsed,
        "published": cache.publisher.published,
        "max_slice_ms": engine.max_slice_ms,
    }
    await cache.stop()
    await engine.stop(cancel_open_orders=True)
    await store.close()
    print(json.dumps(report), flush=True)


# -- console side -------------------------------------------------------------------------------


def strategy_state(remote: RemoteEngine, name: str) -> StrategyState | None:
    return next((s.state for s in remote.snapshot().strategies if s.name == name), None)


async def sample_lag(remote: RemoteEngine, lags: list[float], stop: asyncio.Event) -> None:
    last = None
    while not stop.is_set():
        book = remote.snapshot().books.get("BTC/USD")
        if book is not None and book is not last and book.ts is not None:
            last = book
            lags.append((time.time() - book.ts.timestamp()) * 1000)
        await asyncio.sleep(0.002)


async def measure(url: str, commands: int, ctl_calls: int) -> dict[str, list[float]]:
    settings = redis_settings(url)
    ack_ms: list[float] = []
    result_ms: list[float] = []
    ctl_ms: list[float] = []
    lags: list[float] = []
    state_lags: list[float] = []
    async with RemoteEngine(settings) as remote:
        if not await remote.wait_ready(10):
            raise SystemExit("the engine published no state")
        await asyncio.sleep(1.0)
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_lag(remote, lags, stop))
        redis = open_redis(settings)
        client = CommandClient(redis, remote.keys, SECRET)
        rng = random.Random(5)
        try:
            for index in range(commands):
                await asyncio.sleep(rng.uniform(0.02, 0.06))
                command = Command.PAUSE if index % 2 == 0 else Command.RESUME
                reply = await client.send(command, {"strategy": "sma_btc"}, timeout_s=5)
                if not reply.result.ok or reply.ack_ms is None:
                    raise SystemExit(f"{command} failed: {reply.result.message}")
                ack_ms.append(reply.ack_ms)
                result_ms.append(reply.total_ms)
                expected = (
                    StrategyState.PAUSED if command is Command.PAUSE else StrategyState.RUNNING
                )
                answered = time.perf_counter()
                while strategy_state(remote, "sma_btc") is not expected:
                    if time.perf_counter() - answered > 5:
                        raise SystemExit("the console never showed the command's effect")
                    await asyncio.sleep(0.001)
                state_lags.append((time.perf_counter() - answered) * 1000)
            cli_settings = Settings(redis=settings)
            for index in range(ctl_calls):
                verb = "pause" if index % 2 == 0 else "resume"
                started = time.perf_counter()
                code = await asyncio.to_thread(
                    ctl, cli_settings, verb, "sma_btc", None, 5.0, out=io.StringIO()
                )
                ctl_ms.append((time.perf_counter() - started) * 1000)
                if code != 0:
                    raise SystemExit(f"ctl {verb} exited {code}")
        finally:
            stop.set()
            await sampler
            await client.close()
            await redis.aclose()
    return {
        "ack": ack_ms,
        "result": result_ms,
        "ctl": ctl_ms,
        "book_age": lags,
        "state": state_lags,
    }


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start") from None
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=5000.0, help="book messages per second")
    parser.add_argument("--commands", type=int, default=200, help="remote pause/resume commands")
    parser.add_argument("--ctl-calls", type=int, default=30, help="whole ctl() invocations")
    parser.add_argument("--engine-child", metavar="REDIS_URL", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_child:
        asyncio.run(run_engine(args.engine_child, args.rate, args.workdir))
        return

    with tempfile.TemporaryDirectory(prefix="bench_remote_") as tmp:
        workdir = Path(tmp)
        redis_process, url = start_redis(workdir)
        child = subprocess.Popen(
            [sys.executable, __file__, "--engine-child", url, "--rate", str(args.rate),
             "--workdir", str(workdir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        try:
            assert child.stdout is not None and child.stdin is not None
            if child.stdout.readline().strip() != "ready":
                raise SystemExit("the engine process did not start")
            samples = asyncio.run(measure(url, args.commands, args.ctl_calls))
            child.stdin.close()
            engine_report = json.loads(child.stdout.readline())
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
            redis_process.terminate()
            redis_process.wait()

    local = engine_report["local_ms"]
    print(
        f"market: {engine_report['book_msgs_per_s']:,.0f} book msgs/s produced, engine handled "
        f"{engine_report['engine_events_per_s']:,.0f} events/s, longest engine slice "
        f"{engine_report['max_slice_ms']:.1f} ms, {engine_report['published']} publishes"
    )
    print(summary("remote pause -> ack", samples["ack"]))
    print(summary("remote pause -> result", samples["result"]))
    print(summary("ctl() call, new connection", samples["ctl"]))
    print(summary("local pause (engine loop)", local))
    print(summary("state lag (change -> console)", samples["state"]))
    print(summary("book age when shown", samples["book_age"]))
    p99_remote = percentile(samples["result"], 99)
    p99_local = percentile(local, 99)
    print(f"remote/local p99 ratio: {p99_remote / p99_local:.2f} (target <= 3)")
    result = {
        "p99_command_ms": round(p99_remote, 2),
        "p99_state_lag_ms": round(percentile(samples["state"], 99), 2),
        "local_p99_command_ms": round(p99_local, 2),
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
