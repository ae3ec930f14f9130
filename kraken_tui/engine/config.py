"""What a `TradingEngine` is built with: mode, symbols, strategies, risk limits, alert timing
and the intervals of its loops. `EngineConfig.from_settings` picks them out of `Settings`;
tests and replays build one directly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kraken_tui.domain import Mode
from kraken_tui.engine.order_manager import LookupPolicy
from kraken_tui.engine.risk import RiskLimits
from kraken_tui.engine.strategy_manager import DEFAULT_CALL_BUDGET_S
from kraken_tui.settings import Settings, StrategyConfig


@dataclass(frozen=True, slots=True)
class EngineConfig:
    mode: Mode = Mode.SANDBOX
    live_host_override: str | None = None
    symbols: tuple[str, ...] = ()
    book_depth: int = 10
    strategies: Sequence[StrategyConfig] = ()
    strategy_dir: Path = Path("strategies")
    limits: RiskLimits = field(default_factory=RiskLimits)
    cancel_on_pause: bool = False
    cancel_on_shutdown: bool = True
    dead_man_timeout_s: int = 60
    call_budget_s: float = DEFAULT_CALL_BUDGET_S
    quote_ccy: str = "USD"
    slice_s: float = 0.002
    housekeeping_s: float = 0.25
    equity_snapshot_s: float = 10.0
    state_save_s: float = 5.0
    balance_check_s: float = 60.0
    order_sync_s: float = 30.0
    shutdown_timeout_s: float = 5.0
    bus_capacity: int = 10_000
    lookup: LookupPolicy = field(default_factory=LookupPolicy)
    alert_repeat_s: float = 300.0
    connection_lost_after_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        return cls(
            mode=Mode(settings.mode),
            live_host_override=settings.live_host_override(),
            symbols=settings.traded_symbols(),
            book_depth=settings.book_depth,
            strategies=tuple(settings.strategies),
            strategy_dir=settings.strategy_dir,
            call_budget_s=settings.strategy_budget_ms / 1000,
            limits=RiskLimits.from_settings(settings.risk),
            cancel_on_pause=settings.risk.cancel_on_pause,
            cancel_on_shutdown=settings.risk.cancel_on_shutdown,
            dead_man_timeout_s=settings.exchange.dead_man_switch_timeout_s,
            alert_repeat_s=settings.alerts.repeat_interval_s,
            connection_lost_after_s=settings.alerts.connection_lost_after_s,
        )
