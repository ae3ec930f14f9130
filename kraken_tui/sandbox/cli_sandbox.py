"""Running the sandbox as a standalone server: `kraken-tui sandbox` and
`python -m kraken_tui.sandbox`.

It prints its URLs and the development credentials so that a second terminal can trade
against it with the SDK straight away. When started by `SandboxProcess` it also prints one
machine-readable ready line and exits when its parent's pipe on stdin closes, so a parent
that dies without cleaning up never leaves a server behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from loguru import logger

from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET
from kraken_tui.sandbox.bootstrap import build_server
from kraken_tui.sandbox.mirror import DEFAULT_MIRROR_URL
from kraken_tui.sandbox.ratelimits import Tier
from kraken_tui.sandbox.server import FAULTS_PATH, SandboxConfig, SandboxServer

READY_PREFIX = "KRAKEN_TUI_SANDBOX_READY "
"""Start of the one stdout line that tells a parent process where the sandbox listens."""
DEFAULT_PORT = 8089
DEFAULT_RATE = 200.0


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    seed: int = 0,
    rate: float = DEFAULT_RATE,
    state_path: Path | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
    *,
    tier: Tier = Tier.STARTER,
    faults: Mapping[str, object] | None = None,
    time_scale: float = 1.0,
    mirror_url: str | None = None,
    mirror_pairs: Sequence[str] = ("BTC/USD", "ETH/USD"),
    replay_csv: Path | None = None,
    replay_pair: str = "BTC/USD",
    replay_speed: float = 1.0,
    ready_line: bool = False,
    exit_on_stdin_eof: bool = False,
) -> None:
    """Serve until interrupted (Ctrl-C, SIGTERM, or stdin EOF when asked). `port` 0 picks a
    free port. `api_key`/`api_secret` (base64) add a funded account besides the dev one.
    `time_scale` makes venue time run that many times faster than wall time; `mirror_url`
    makes Kraken's live feed for `mirror_pairs` the market (paper mode). Raises
    ValueError for a bad credential pair or a time scale that is not positive."""
    if (api_key is None) != (api_secret is None):
        raise ValueError("--api-key and --api-secret must be given together")
    _log_tracebacks_without_locals()
    extra = ((api_key, api_secret),) if api_key is not None and api_secret is not None else ()
    config = SandboxConfig(
        host=host,
        port=port,
        seed=seed,
        rate=rate,
        state_path=state_path,
        extra_credentials=extra,
        tier=tier,
        faults=dict(faults or {}),
        time_scale=time_scale,
        mirror_url=mirror_url,
        mirror_pairs=tuple(mirror_pairs),
        replay_csv=replay_csv,
        replay_pair=replay_pair,
        replay_speed=replay_speed,
    )
    asyncio.run(_serve(config, ready_line=ready_line, exit_on_stdin_eof=exit_on_stdin_eof))


def _log_tracebacks_without_locals() -> None:
    """loguru's default sink prints every local variable's value in a traceback (`diagnose`),
    and the server's handlers hold clients' WebSocket tokens and signed requests in theirs."""
    logger.remove()
    logger.add(sys.stderr, level="DEBUG", backtrace=False, diagnose=False)


async def _serve(config: SandboxConfig, *, ready_line: bool, exit_on_stdin_eof: bool) -> None:
    server = build_server(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if exit_on_stdin_eof:
        threading.Thread(
            target=_wait_for_stdin_eof, args=(loop, stop), daemon=True, name="parent-watch"
        ).start()
    await server.start()
    try:
        _announce(server, config, ready_line=ready_line)
        await stop.wait()
    finally:
        await server.stop()
        server.venue.close()
        logger.info("sandbox stopped")


def _wait_for_stdin_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    while sys.stdin.buffer.read1(4096):
        pass
    loop.call_soon_threadsafe(stop.set)


def _announce(server: SandboxServer, config: SandboxConfig, *, ready_line: bool) -> None:
    lines = [
        "kraken-tui sandbox (Kraken REST + WebSocket v2 protocol, loopback only)",
        f"  REST        {server.rest_url:<34} SDK: url=",
        f"  WS public   {server.ws_url:<34} SDK: ws_url= (serves /v2)",
        f"  WS private  {server.ws_auth_url:<34} SDK: auth_ws_url= (serves /auth/v2)",
        f"  faults      {server.rest_url + FAULTS_PATH}",
        f"  dev API key     {DEV_API_KEY}",
        f"  dev API secret  {DEV_API_SECRET}",
        "  (sandbox-only development credentials, documented in docs/sandbox.md)",
    ]
    if config.time_scale != 1:
        lines.append(f"  time scale      x{config.time_scale:g} (venue time runs faster)")
    for api_key, _ in config.extra_credentials:
        lines.append(f"  extra account   {api_key} (secret as given)")
    print("\n".join(lines), flush=True)
    if ready_line:
        details = {
            "port": server.port,
            "rest_url": server.rest_url,
            "ws_url": server.ws_url,
            "ws_auth_url": server.ws_auth_url,
            "time_scale": config.time_scale,
        }
        print(READY_PREFIX + json.dumps(details), flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kraken_tui.sandbox",
        description="Run the Kraken-protocol sandbox exchange on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help="synthetic book events per second (0: no market simulation)",
    )
    parser.add_argument("--state", type=Path, default=None, help="SQLite state file")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--api-secret", default=None, help="base64, as Kraken issues them")
    parser.add_argument("--tier", choices=[t.value for t in Tier], default=Tier.STARTER.value)
    parser.add_argument(
        "--faults", default=None, help="initial fault plan as JSON, e.g. '{\"reject_orders\": 2}'"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="venue time runs this many times faster than wall time (60: a 1-minute candle "
        "closes every second); dead man's switch timeouts run on venue time too",
    )
    parser.add_argument(
        "--mirror",
        metavar="URL",
        nargs="?",
        const=DEFAULT_MIRROR_URL,
        default=None,
        help="paper mode: mirror Kraken's public WS v2 book and trades "
        f"(default URL {DEFAULT_MIRROR_URL})",
    )
    parser.add_argument(
        "--mirror-pairs", default="BTC/USD,ETH/USD", help="comma-separated pairs to mirror"
    )
    parser.add_argument(
        "--replay", type=Path, default=None, help="replay a Kraken time-and-sales CSV"
    )
    parser.add_argument("--replay-pair", default="BTC/USD", help="pair the replayed CSV drives")
    parser.add_argument("--replay-speed", type=float, default=1.0, help="replay speed-up")
    parser.add_argument("--ready-line", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        faults = json.loads(args.faults) if args.faults else None
        if faults is not None and not isinstance(faults, dict):
            raise ValueError("--faults must be a JSON object")
        run_sandbox(
            args.host,
            args.port,
            args.seed,
            args.rate,
            args.state,
            args.api_key,
            args.api_secret,
            tier=Tier(args.tier),
            faults=faults,
            time_scale=args.time_scale,
            mirror_url=args.mirror,
            replay_csv=args.replay,
            replay_pair=args.replay_pair,
            replay_speed=args.replay_speed,
            mirror_pairs=tuple(p.strip() for p in args.mirror_pairs.split(",") if p.strip()),
            ready_line=args.ready_line,
            exit_on_stdin_eof=args.exit_on_stdin_eof,
        )
    except ValueError as exc:
        print(f"kraken-tui sandbox: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"kraken-tui sandbox: cannot serve: {exc}", file=sys.stderr)
        return 1
    return 0
