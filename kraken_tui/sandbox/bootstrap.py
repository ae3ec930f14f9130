"""Assembling a sandbox: venue (with its SQLite state), market simulation and server."""

from __future__ import annotations

from kraken_tui.sandbox.server import SandboxConfig, SandboxServer
from kraken_tui.sandbox.venue import SandboxVenue


def build_server(config: SandboxConfig) -> SandboxServer:
    venue = SandboxVenue(state_path=config.state_path)
    return SandboxServer(config, venue, market=None)
