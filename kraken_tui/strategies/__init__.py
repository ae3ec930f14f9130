"""Strategies: the `BaseStrategy` contract, its intents and the name registry.

Built-in strategies live in sibling modules and register themselves on import;
`load_builtin_strategies()` imports them all so the registry is complete.
"""

import importlib
import pkgutil

from loguru import logger

from kraken_tui.strategies.base import (
    AmendOrder,
    BaseStrategy,
    CancelAll,
    CancelOrder,
    Intent,
    Intents,
    NoParams,
    PlaceOrder,
    StrategyConfigError,
    StrategyContext,
    as_intents,
    register_strategy,
    strategy_registry,
)


def load_builtin_strategies() -> dict[str, str]:
    """Import every module of this package so each built-in registers itself. A module that
    fails to import is logged and skipped (returned as {module: error}): one broken built-in
    must not take the others down."""
    errors: dict[str, str] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name == "base":
            continue
        name = f"{__name__}.{module.name}"
        try:
            importlib.import_module(name)
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
            logger.error("cannot import built-in strategy module {}: {}", name, errors[name])
    # ml_signal lives with the ML code it needs; importing it needs no scikit-learn.
    try:
        importlib.import_module("kraken_tui.ml.strategy")
    except Exception as exc:
        errors["kraken_tui.ml.strategy"] = f"{type(exc).__name__}: {exc}"
        logger.error("cannot import the ml_signal strategy: {}", errors["kraken_tui.ml.strategy"])
    return errors


__all__ = [
    "AmendOrder",
    "BaseStrategy",
    "CancelAll",
    "CancelOrder",
    "Intent",
    "Intents",
    "NoParams",
    "PlaceOrder",
    "StrategyConfigError",
    "StrategyContext",
    "as_intents",
    "load_builtin_strategies",
    "register_strategy",
    "strategy_registry",
]
