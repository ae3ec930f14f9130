"""Command line: ``kraken-tui`` (console), ``--no-ui`` (headless) and subcommands.

Shared options live on the root callback and are stored in ``ctx.obj`` as ``CliOptions``
(``cli_options``); a subcommand reads them with ``options_from(ctx)`` and calls
``options.load_settings()``, which turns any configuration problem into exit code 2 with a
one-paragraph message.
Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from kraken_tui import __version__
from kraken_tui.backtest.cli_backtest import register as register_backtest
from kraken_tui.cli_live import register as register_live
from kraken_tui.cli_options import (
    EXIT_CONFIG_ERROR,
    EXIT_OK,
    EXIT_RUNTIME_FAILURE,
    CliOptions,
    options_from,
)
from kraken_tui.engine.strategy_loader import strategy_config_errors
from kraken_tui.ml.cli_ml import register as register_ml
from kraken_tui.notify.cli_alert import register as register_alert
from kraken_tui.sandbox.cli_sandbox import register as register_sandbox
from kraken_tui.settings import (
    Settings,
    masked_url,
)

app = typer.Typer(
    name="kraken-tui",
    help="Terminal trading console for Kraken spot (sandbox by default).",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(help="Inspect and validate the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"kraken-tui {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    no_ui: Annotated[
        bool, typer.Option("--no-ui", help="Run headless: engine, console logs, no TUI.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(help="TOML config file (default: config/kraken_tui.toml if present)."),
    ] = None,
    mode: Annotated[
        str | None, typer.Option(help="sandbox, paper or live (live needs explicit opt-in).")
    ] = None,
    db: Annotated[Path | None, typer.Option(help="SQLite database file.")] = None,
    log_level: Annotated[
        str | None, typer.Option(help="DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(min=0.0, help="Run this many seconds, then shut down cleanly and exit 0."),
    ] = None,
    secrets: Annotated[
        Path | None, typer.Option(help="Secrets file with api_key/api_secret (chmod 600).")
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Open the trading console (or run headless with --no-ui)."""
    options = CliOptions(
        config=config,
        secrets=secrets,
        mode=mode,
        db=db,
        log_level=log_level,
        duration=duration,
        no_ui=no_ui,
    )
    ctx.obj = options
    if ctx.invoked_subcommand is not None:
        return
    settings = options.load_settings()
    raise typer.Exit(_run_app(settings, options.config_source(), headless=no_ui, duration=duration))


def _run_app(settings: Settings, config_source: str, headless: bool, duration: float | None) -> int:
    # Imported here so `config check` and `--help` stay fast and never start sinks.
    from loguru import logger

    from kraken_tui import runtime
    from kraken_tui.logging import configure_logging

    logs = configure_logging(settings.logging, headless=headless, secrets=settings.secret_values())
    logger.info("{}", config_source)
    try:
        return runtime.run(settings, headless=headless, duration=duration, logs=logs)
    except Exception:
        logger.exception("kraken-tui stopped on an unexpected error")
        return EXIT_RUNTIME_FAILURE
    finally:
        logs.close()


class OutputFormat(StrEnum):
    toml = "toml"
    json = "json"


@config_app.command("check")
def config_check(
    ctx: typer.Context,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="Format of the printed configuration.")
    ] = OutputFormat.toml,
) -> None:
    """Validate the configuration (each strategy's class and parameters included) and print
    the effective values, secrets masked."""
    options = options_from(ctx)
    settings = options.load_settings()
    typer.echo(options.config_source(), err=True)
    problems = strategy_config_errors(
        ((s.name, s.class_name, s.params) for s in settings.strategies), settings.strategy_dir
    )
    if problems:
        for problem in problems:
            typer.echo(f"kraken-tui: {problem}", err=True)
        raise typer.Exit(EXIT_CONFIG_ERROR)
    effective = settings.model_dump(mode="json", by_alias=True)
    if settings.redis.url is not None:
        effective["redis"]["url"] = masked_url(settings.redis.url)
    if output is OutputFormat.json:
        typer.echo(json.dumps(effective, indent=2))
    else:
        typer.echo(dump_toml(effective), nl=False)
    typer.echo("configuration is valid", err=True)


def dump_toml(values: dict[str, Any]) -> str:
    """TOML text for the settings tree (tables, arrays of tables, scalars; nulls omitted)."""
    lines: list[str] = []
    _dump_table(values, [], lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _dump_table(table: dict[str, Any], path: list[str], lines: list[str]) -> None:
    nested: list[tuple[str, Any]] = []
    for key, value in table.items():
        if value is None:
            continue
        if isinstance(value, dict) or (
            isinstance(value, list) and value and all(isinstance(item, dict) for item in value)
        ):
            nested.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in nested:
        child = [*path, _toml_key(key)]
        if isinstance(value, dict):
            lines += ["", f"[{'.'.join(child)}]"]
            _dump_table(value, child, lines)
        else:
            for item in value:
                lines += ["", f"[[{'.'.join(child)}]]"]
                _dump_table(item, child, lines)


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    return json.dumps(str(value))


@app.command("ctl")
def ctl(
    ctx: typer.Context,
    command: Annotated[
        str,
        typer.Argument(
            help="status, pause, resume, pause-all, resume-all, kill, reset-kill or cancel-all."
        ),
    ],
    name: Annotated[str | None, typer.Argument(help="Strategy name for pause/resume.")] = None,
    engine: Annotated[
        str | None, typer.Option("--engine", help="Engine id (default: redis.engine_id).")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for the answer.")] = 5.0,
) -> None:
    """Send a signed command to a running engine through Redis and print its answer."""
    from kraken_tui.cache.cli_remote import ctl as run_ctl

    settings = options_from(ctx).load_settings()
    raise typer.Exit(run_ctl(settings, command, name, engine, timeout))


@app.command("engines")
def engines(ctx: typer.Context) -> None:
    """List the engines publishing to the configured Redis."""
    from kraken_tui.cache.cli_remote import list_engines

    raise typer.Exit(list_engines(options_from(ctx).load_settings()))


@app.command("attach")
def attach(
    ctx: typer.Context,
    engine: Annotated[
        str | None, typer.Option("--engine", help="Engine id (default: redis.engine_id).")
    ] = None,
) -> None:
    """Open the console on a headless engine running elsewhere, through Redis."""
    from kraken_tui.cache.cli_remote import attach as run_attach
    from kraken_tui.logging import configure_logging

    settings = options_from(ctx).load_settings()
    logs = configure_logging(settings.logging, headless=False, secrets=settings.secret_values())
    try:
        raise typer.Exit(run_attach(settings, engine))
    finally:
        logs.close()


@app.command("serve")
def serve(
    ctx: typer.Context,
    engine: Annotated[
        str | None, typer.Option("--engine", help="Engine id (default: redis.engine_id).")
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; loopback unless you mean otherwise.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8765,
    max_sessions: Annotated[
        int, typer.Option(min=1, help="Browser tabs (each its own console) open at once.")
    ] = 8,
) -> None:
    """Serve the attach console to a web browser; prints the URL with its access token."""
    from kraken_tui.serve import root_args
    from kraken_tui.serve import serve as run_serve

    options = options_from(ctx)
    settings = options.load_settings()
    raise typer.Exit(run_serve(settings, root_args(options), engine, host, port, max_sessions))


register_sandbox(app)
register_backtest(app)
register_ml(app)
register_live(app)
register_alert(app)


def main() -> None:
    """Console-script entry point. Files a run creates hold account data (orders, fills,
    balances, logs): beside the explicit 0600 of each one, the umask keeps anything created
    on the way (a library's temporary file, a report) private to the user too."""
    os.umask(0o077)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_OK)
