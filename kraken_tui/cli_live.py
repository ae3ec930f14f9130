"""Going live with confidence: `preflight`, `record` and `replay`.

`preflight` checks the configured exchange and credentials without placing anything;
`record` runs a headless session with the flight recorder on; `replay` feeds a recording
through the adapter and the engine offline. Registered on the root app by `register`; the
root's options are read through `kraken_tui.cli_options.options_from`.
Exit codes as cli.py's: 0 ok, 1 runtime failure (a failed check), 2 unusable input.
"""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

EXIT_OK = 0
EXIT_RUNTIME_FAILURE = 1
EXIT_CONFIG_ERROR = 2


class ChecklistFormat(StrEnum):
    text = "text"
    json = "json"


def preflight_command(
    ctx: typer.Context,
    output: Annotated[
        ChecklistFormat, typer.Option("--format", help="text for people, json for scripts.")
    ] = ChecklistFormat.text,
) -> None:
    """Check the configured exchange with the configured credentials, placing nothing: key
    and signature, nonces, clock, private WebSocket, fees, each strategy's order (validated
    by the exchange) and the dead man's switch. Exits 1 when any check fails."""
    from kraken_tui.cli_options import options_from
    from kraken_tui.exchange.protocol import ExchangeError
    from kraken_tui.exchange_setup import ExchangeSetupError
    from kraken_tui.logging import configure_logging
    from kraken_tui.preflight.checklist import all_passed, checklist_json, checklist_text
    from kraken_tui.preflight.checks import run_preflight

    options = options_from(ctx)
    settings = options.load_settings()
    typer.echo(options.config_source(), err=True)
    logs = configure_logging(settings.logging, headless=False, secrets=settings.secret_values())
    try:
        target, results = asyncio.run(run_preflight(settings))
    except (ExchangeSetupError, ExchangeError) as error:
        typer.echo(f"kraken-tui preflight: {error}", err=True)
        raise typer.Exit(EXIT_RUNTIME_FAILURE) from None
    finally:
        logs.close()
    render = checklist_json if output is ChecklistFormat.json else checklist_text
    typer.echo(render(results, target))
    raise typer.Exit(EXIT_OK if all_passed(results) else EXIT_RUNTIME_FAILURE)


def record_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Recording file to write (JSONL).")],
    duration: Annotated[
        float | None,
        typer.Option(min=0.0, help="Record this many seconds, then stop cleanly."),
    ] = None,
) -> None:
    """Run a headless session with the flight recorder on: every WebSocket v2 message and
    REST answer goes to OUT, with keys, secrets, signatures, nonces and tokens removed."""
    from loguru import logger

    from kraken_tui import runtime
    from kraken_tui.cli_options import options_from
    from kraken_tui.logging import configure_logging

    options = options_from(ctx)
    settings = options.load_settings()
    logs = configure_logging(settings.logging, headless=True, secrets=settings.secret_values())
    logger.info("{}", options.config_source())
    try:
        code = runtime.run(
            settings,
            headless=True,
            duration=duration if duration is not None else options.duration,
            logs=logs,
            record_to=out,
        )
    except Exception:
        logger.exception("kraken-tui record stopped on an unexpected error")
        code = EXIT_RUNTIME_FAILURE
    finally:
        logs.close()
    raise typer.Exit(code)


def replay_command(
    recording: Annotated[Path, typer.Argument(help="A recording made by `kraken-tui record`.")],
) -> None:
    """Feed a recording through the adapter and the engine offline (no network) and print
    the orders, fills and balances that result, and any checksum or parse failure."""
    from loguru import logger

    from kraken_tui.recording.recording_file import RecordingError
    from kraken_tui.recording.replay import replay_report, replay_text

    # The report lists what the adapter could not use; the engine's own chatter (adopting
    # every order of the recording) would drown it.
    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    try:
        report = asyncio.run(replay_report(recording))
    except (OSError, RecordingError) as error:
        typer.echo(f"kraken-tui replay: {error}", err=True)
        raise typer.Exit(EXIT_CONFIG_ERROR) from None
    typer.echo(replay_text(report))
    raise typer.Exit(EXIT_OK if not report.problems else EXIT_RUNTIME_FAILURE)


def register(app: typer.Typer) -> None:
    """Add `preflight`, `record` and `replay` to the root app (one line in cli.py)."""
    app.command("preflight")(preflight_command)
    app.command("record")(record_command)
    app.command("replay")(replay_command)
