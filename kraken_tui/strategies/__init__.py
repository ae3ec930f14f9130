"""Strategies: the `BaseStrategy` contract, its intents and the name registry.

Built-in strategies live in sibling modules and register themselves on import;
`load_builtin_strategies()` imports them all so the registry is complete.
"""

import importlib
import pkgutil

from kraken_tui.strategies.base import (
    BaseStrategy,
    CancelAll,
    CancelOrder,
    Intent,
    Intents,
    NoParams,
    PlaceOrder,
    StrategyConfigError,
    StrategyContext,
    register_strategy,
    strategy_registry,
)


def load_builtin_strategies() -> None:
    """Import every module of this package so each built-in registers itself."""
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")


__all__ = [
    "BaseStrategy",
    "CancelAll",
    "CancelOrder",
    "Intent",
    "Intents",
    "NoParams",
    "PlaceOrder",
    "StrategyConfigError",
    "StrategyContext",
    "load_builtin_strategies",
    "register_strategy",
    "strategy_registry",
]
