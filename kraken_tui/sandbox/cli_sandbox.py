"""The sandbox's one command line: `kraken-tui sandbox` and `python -m kraken_tui.sandbox`
run the same typer command, with the same options and defaults.

It prints its URLs and the development credentials so that a second terminal can trade
against it with the SDK straight away. When started by `SandboxProcess` it also prints one
machine-readable ready line and exits when its parent's pipe on stdin closes, so a parent
that dies without cleaning up never leaves a server behind.

The server's modules are imported only when it runs: `kraken-tui` registers this command at
start-up, and `--help` or `config check` must not pay for aiohttp and the venue.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from loguru import logger

from kraken_tui.sandbox.ratelimits import Tier

if TYPE_CHECKING:
    from kraken_tui.sandbox.server import SandboxConfig, SandboxServer

READY_PREFIX = "KRAKEN_TUI_SANDBOX_READY "
"""Start of the one stdout line that tells a parent process where the sandbox listens."""
DEFAULT_PORT = 8089
DEFAULT_RATE = 200.0
DEFAULT_MIRROR_PAIRS = ("BTC/USD", "ETH/USD")
EXIT_USAGE = 2
EXIT_CANNOT_SERVE = 1


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
    mirror_pairs: Sequence[str] = DEFAULT_MIRROR_PAIRS,
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
    from kraken_tui.sandbox.server import SandboxConfig

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
    from kraken_tui.sandbox.bootstrap import build_server

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
    while os.read(sys.stdin.fileno(), 4096):
        pass
    loop.call_soon_threadsafe(stop.set)


def _announce(server: SandboxServer, config: SandboxConfig, *, ready_line: bool) -> None:
    from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET
    from kraken_tui.sandbox.server import FAULTS_PATH

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


def sandbox_command(
    host: Annotated[str, typer.Option(help="Interface to listen on (keep it loopback).")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port; 0 picks a free one.")
    ] = DEFAULT_PORT,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 0,
    rate: Annotated[
        float,
        typer.Option(min=0.0, help="Synthetic book events per second (0: no market simulation)."),
    ] = DEFAULT_RATE,
    state: Annotated[
        Path | None, typer.Option(help="SQLite file keeping accounts, orders and fills.")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="Extra funded account's API key (with --api-secret).")
    ] = None,
    api_secret: Annotated[
        str | None, typer.Option(help="Its secret, base64 as Kraken issues them.")
    ] = None,
    tier: Annotated[Tier, typer.Option(help="Rate-limit tier.")] = Tier.STARTER,
    faults: Annotated[
        str | None,
        typer.Option(help="Initial fault plan as a JSON object, e.g. '{\"reject_orders\": 2}'."),
    ] = None,
    time_scale: Annotated[
        float,
        typer.Option(
            help="Venue time runs this many times faster than wall time (60: a 1-minute candle "
            "closes every second); dead man's switch timeouts run on venue time too."
        ),
    ] = 1.0,
    mirror: Annotated[
        bool,
        typer.Option(
            "--mirror", help="Paper mode: mirror Kraken's public book and trades (--mirror-url)."
        ),
    ] = False,
    mirror_url: Annotated[
        str | None,
        typer.Option(help="WebSocket v2 feed to mirror (default: Kraken's public feed)."),
    ] = None,
    mirror_pairs: Annotated[str, typer.Option(help="Comma-separated pairs to mirror.")] = ",".join(
        DEFAULT_MIRROR_PAIRS
    ),
    replay: Annotated[
        Path | None, typer.Option(help="Replay a Kraken time-and-sales CSV as one pair's market.")
    ] = None,
    replay_pair: Annotated[str, typer.Option(help="Pair the replayed CSV drives.")] = "BTC/USD",
    replay_speed: Annotated[float, typer.Option(min=0.001, help="Replay speed-up.")] = 1.0,
    ready_line: Annotated[
        bool,
        typer.Option(
            "--ready-line",
            help="Print one machine-readable line with the URLs once listening (for a parent "
            "process).",
        ),
    ] = False,
    exit_on_stdin_eof: Annotated[
        bool,
        typer.Option(
            "--exit-on-stdin-eof", help="Shut down when stdin closes (the parent went away)."
        ),
    ] = False,
) -> None:
    """Run the Kraken-protocol sandbox exchange standalone and print its URLs and credentials."""
    try:
        mirror_from = None
        if mirror:
            from kraken_tui.sandbox.mirror import DEFAULT_MIRROR_URL

            mirror_from = mirror_url or DEFAULT_MIRROR_URL
        run_sandbox(
            host,
            port,
            seed,
            rate,
            state,
            api_key,
            api_secret,
            tier=tier,
            faults=_fault_plan(faults),
            time_scale=time_scale,
            mirror_url=mirror_from,
            mirror_pairs=tuple(p.strip() for p in mirror_pairs.split(",") if p.strip()),
            replay_csv=replay,
            replay_pair=replay_pair,
            replay_speed=replay_speed,
            ready_line=ready_line,
            exit_on_stdin_eof=exit_on_stdin_eof,
        )
    except ValueError as error:
        typer.echo(f"kraken-tui sandbox: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from error
    except OSError as error:
        typer.echo(f"kraken-tui sandbox: cannot serve: {error}", err=True)
        raise typer.Exit(EXIT_CANNOT_SERVE) from error


def _fault_plan(text: str | None) -> dict[str, object] | None:
    if text is None:
        return None
    try:
        plan = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--faults is not JSON: {error}") from error
    if not isinstance(plan, dict):
        raise ValueError("--faults must be a JSON object")
    return plan


def register(app: typer.Typer) -> None:
    """Add `sandbox` to a typer app (the root `kraken-tui` app: one line in cli.py)."""
    app.command("sandbox")(sandbox_command)


def main() -> None:
    """`python -m kraken_tui.sandbox`: the same command on its own, as `SandboxProcess` runs
    it (without loading the console's command line)."""
    app = typer.Typer(
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    register(app)
    app(prog_name="python -m kraken_tui.sandbox")
