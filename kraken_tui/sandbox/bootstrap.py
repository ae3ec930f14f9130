"""Assembling a sandbox: venue (with its SQLite state), market simulation and server."""

from __future__ import annotations

from kraken_tui.sandbox.market import MarketSimulator
from kraken_tui.sandbox.server import SandboxConfig, SandboxServer
from kraken_tui.sandbox.venue import SandboxVenue


def build_server(config: SandboxConfig) -> SandboxServer:
    """A ready-to-start server; with `rate` 0 the books stay as users leave them (tests that
    need a quiet market)."""
    venue = SandboxVenue(state_path=config.state_path)
    market = MarketSimulator(venue, seed=config.seed, rate=config.rate) if config.rate > 0 else None
    return SandboxServer(config, venue, market=market)
