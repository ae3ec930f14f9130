"""The root command's shared options, as every subcommand reads them from `ctx.obj`.

They live apart from `cli` so that subcommand modules, which `cli` imports to register
them, can read the options without importing `cli` back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from kraken_tui.settings import ConfigError, Settings, config_file_in_use, load_settings

EXIT_OK = 0
EXIT_RUNTIME_FAILURE = 1
EXIT_CONFIG_ERROR = 2


@dataclass(frozen=True)
class CliOptions:
    """The shared flags; flags given on the command line override file and environment."""

    config: Path | None
    secrets: Path | None
    mode: str | None
    db: Path | None
    log_level: str | None
    duration: float | None
    no_ui: bool

    def overrides(self) -> dict[str, Any]:
        """Flags as a nested settings mapping, holding only flags that were given."""
        overrides: dict[str, Any] = {}
        if self.mode is not None:
            overrides["mode"] = self.mode
        if self.db is not None:
            overrides["storage"] = {"db_path": self.db}
        if self.log_level is not None:
            overrides["logging"] = {"level": self.log_level}
        return overrides

    def load_settings(self) -> Settings:
        """Effective settings, or exit 2 with the configuration error on stderr."""
        try:
            return load_settings(self.config, self.overrides(), self.secrets)
        except ConfigError as error:
            typer.echo(f"kraken-tui: {error}", err=True)
            raise typer.Exit(EXIT_CONFIG_ERROR) from None

    def config_source(self) -> str:
        """Which file the settings came from, so an operator never runs on a file they did not
        mean (the default file is picked up silently from the working directory)."""
        path = config_file_in_use(self.config)
        if path is None:
            return "config: built-in defaults (no config file)"
        return f"config: {path.resolve()}"


def options_from(ctx: typer.Context) -> CliOptions:
    """The root callback's options, from any subcommand's context."""
    options = ctx.find_root().obj
    assert isinstance(options, CliOptions)
    return options
