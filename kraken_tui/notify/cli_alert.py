"""`kraken-tui alert test`: send a test alert to every configured destination and say, for
each one, whether it arrived. Registered on the root app by `register`.
Exit codes as cli.py's: 0 every destination took it, 1 one or more failed, 2 no destination
or a bad configuration."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Annotated

import typer

from kraken_tui.cli_options import EXIT_CONFIG_ERROR, EXIT_OK, EXIT_RUNTIME_FAILURE, options_from

alert_app = typer.Typer(help="Alerts pushed to people (Apprise).", no_args_is_help=True)


@alert_app.command("test")
def test_command(
    ctx: typer.Context,
    retries: Annotated[
        int | None,
        typer.Option(min=0, max=20, help="Retries per destination (default: alerts.retries)."),
    ] = None,
) -> None:
    """Send a test alert to every destination in alerts.urls, all at once, and print each
    result; exits 1 when any destination did not take it."""
    from kraken_tui.alerts.alert import Alert, AlertKind, AlertLevel
    from kraken_tui.notify.delivery import DeliveryResult
    from kraken_tui.notify.service import destinations_of, policy_of

    options = options_from(ctx)
    settings = options.load_settings()
    typer.echo(options.config_source(), err=True)
    if not settings.alerts.urls:
        typer.echo(
            "kraken-tui alert test: no destination configured; set alerts.urls "
            "(see docs/operations.md, 'Alerts on your phone')",
            err=True,
        )
        raise typer.Exit(EXIT_CONFIG_ERROR)
    alerts = settings.alerts
    if retries is not None:
        alerts = alerts.model_copy(update={"retries": retries})
    now = datetime.now(UTC)
    alert = Alert(
        seq=0,
        ts=now,
        level=AlertLevel.INFO,
        kind=AlertKind.TEST,
        title="kraken-tui test alert",
        detail=(
            f"Sent by 'kraken-tui alert test' on {socket.gethostname()} at {now:%Y-%m-%d %H:%M:%S} "
            f"UTC ({settings.mode} mode, engine {settings.redis.engine_id}). "
            "If you read this, alerts reach you."
        ),
    )
    policy = policy_of(alerts)

    def ignore(_result: DeliveryResult) -> None:
        return None

    destinations = destinations_of(alerts, ignore)
    typer.echo(
        f"sending a test alert to {len(destinations)} destinations "
        f"(timeout {policy.timeout_s:g} s, {policy.retries} retries)",
        err=True,
    )
    with ThreadPoolExecutor(max_workers=len(destinations)) as pool:
        results = list(pool.map(lambda destination: destination.send(alert), destinations))
    for result in results:
        attempts = f"{result.attempts} attempt{'s' if result.attempts > 1 else ''}"
        if result.ok:
            typer.echo(f"ok      {result.destination} ({attempts})")
        else:
            typer.echo(f"FAILED  {result.destination} ({attempts}): {result.error}")
    failed = sum(not result.ok for result in results)
    raise typer.Exit(EXIT_RUNTIME_FAILURE if failed else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add `alert test` to the root app (one line in cli.py)."""
    app.add_typer(alert_app, name="alert")
