"""One repository per aggregate; each maps rows to domain types with exact Decimals."""

from kraken_tui.store.repositories.backtests import BacktestRun, BacktestRunRepository
from kraken_tui.store.repositories.equity import EquityRepository, EquitySnapshot
from kraken_tui.store.repositories.events import EventLogRepository, LoggedEvent, Severity
from kraken_tui.store.repositories.executions import ExecutionRepository
from kraken_tui.store.repositories.kv import KeyValueRepository
from kraken_tui.store.repositories.orders import OrderRepository
from kraken_tui.store.repositories.positions import PositionRepository
from kraken_tui.store.repositories.reconciliation import (
    ReconciliationEntry,
    ReconciliationLogRepository,
)
from kraken_tui.store.repositories.strategies import StrategyRecord, StrategyRepository

__all__ = [
    "BacktestRun",
    "BacktestRunRepository",
    "EquityRepository",
    "EquitySnapshot",
    "EventLogRepository",
    "ExecutionRepository",
    "KeyValueRepository",
    "LoggedEvent",
    "OrderRepository",
    "PositionRepository",
    "ReconciliationEntry",
    "ReconciliationLogRepository",
    "Severity",
    "StrategyRecord",
    "StrategyRepository",
]
