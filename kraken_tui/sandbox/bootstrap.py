"""Assembling a sandbox: venue (with its SQLite state), market simulation and server."""

from __future__ import annotations

import time
from collections.abc import Callable

from kraken_tui.sandbox.market import MarketSimulator
from kraken_tui.sandbox.scaled_clock import ScaledClock
from kraken_tui.sandbox.server import SandboxConfig, SandboxServer
from kraken_tui.sandbox.venue import SandboxVenue


def build_server(config: SandboxConfig) -> SandboxServer:
    """A ready-to-start server; with `rate` 0 the books stay as users leave them (tests that
    need a quiet market).

    With a `time_scale` other than 1 the venue stamps everything with the scaled clock and the
    simulator moves prices by the same scaled time, so volatility per candle is what it is at
    normal speed; the simulator is still stepped in wall time, so the book message rate (the
    CPU cost) does not grow with the scale."""
    clock: Callable[[], float] = (
        time.time if config.time_scale == 1 else ScaledClock(config.time_scale)
    )
    venue = SandboxVenue(state_path=config.state_path, clock=clock)
    market = (
        MarketSimulator(venue, seed=config.seed, rate=config.rate, time_scale=config.time_scale)
        if config.rate > 0
        else None
    )
    return SandboxServer(config, venue, market=market)
