"""Assembling a sandbox: venue (with its SQLite state), market simulation and server."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from kraken_tui.sandbox.market import MarketSimulator
from kraken_tui.sandbox.mirror import MirrorMarket
from kraken_tui.sandbox.replay import TradesReplay, read_trades_csv
from kraken_tui.sandbox.scaled_clock import ScaledClock
from kraken_tui.sandbox.server import MarketDriver, SandboxConfig, SandboxServer
from kraken_tui.sandbox.state import VenueStore
from kraken_tui.sandbox.venue import SandboxVenue


def build_server(config: SandboxConfig) -> SandboxServer:
    """A ready-to-start server; with `rate` 0 the books stay as users leave them (tests that
    need a quiet market); with `mirror_url` Kraken's live feed is the market (paper mode).

    With a `time_scale` other than 1 the venue stamps everything with the scaled clock and the
    simulator moves prices by the same scaled time, so volatility per candle is what it is at
    normal speed; the simulator is still stepped in wall time, so the book message rate (the
    CPU cost) does not grow with the scale. On a state file whose stamps are ahead of the wall
    clock (left by a faster run) the venue clock resumes from the newest stamp."""
    latest = _latest_stamp(config.state_path)
    clock: Callable[[], float] = time.time
    if config.time_scale != 1 or latest > time.time():
        clock = ScaledClock(config.time_scale, start=max(latest, time.time()))
    venue = SandboxVenue(state_path=config.state_path, clock=clock)
    market: MarketDriver | None = None
    if config.mirror_url is not None:
        market = MirrorMarket(venue, config.mirror_pairs, url=config.mirror_url)
    elif config.rate > 0:
        simulator = MarketSimulator(
            venue, seed=config.seed, rate=config.rate, time_scale=config.time_scale
        )
        market = simulator
        if config.replay_csv is not None:
            trades = read_trades_csv(config.replay_csv)
            market = TradesReplay(simulator, config.replay_pair, trades, speed=config.replay_speed)
    return SandboxServer(config, venue, market=market)


def _latest_stamp(state_path: Path | None) -> float:
    """The newest order or fill time in an existing state file (0 without one): a run at a
    time scale above 1 leaves stamps ahead of the wall clock."""
    if state_path is None or not state_path.exists():
        return 0.0
    store = VenueStore(state_path)
    try:
        state = store.load()
    finally:
        store.close()
    stamps = [o.lastupdated for o in state.orders] + [f.time for f in state.fills]
    return max(stamps, default=0.0)
