"""The UI must work against any EngineApi (in-process or remote): it may import the engine's
API module and the shared domain types, never the engine's internals or the exchange adapter."""

from __future__ import annotations

import ast
from pathlib import Path

import kraken_tui.ui

ALLOWED_PREFIXES = ("kraken_tui.ui", "kraken_tui.domain", "kraken_tui.engine.api")
ALLOWED_EXACT = {"kraken_tui.exchange.protocol"}
"""`protocol` holds the value types `EngineSnapshot` is made of (ConnectionStatus, ...)."""

OFFLINE_SCREENS = {
    "screens/backtest_screen.py": ("kraken_tui.backtest", "kraken_tui.store"),
}
"""Screens that show stored backtest runs, not the engine: they read the local database and
the backtester's report code, and never touch a running engine."""


def imported_kraken_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("kraken_tui")}


def test_ui_modules_import_only_the_engine_api_and_domain_types() -> None:
    ui_dir = Path(kraken_tui.ui.__file__).parent
    offenders = {
        f"{path.relative_to(ui_dir)}: {module}"
        for path in ui_dir.rglob("*.py")
        for module in imported_kraken_modules(path)
        if not module.startswith(ALLOWED_PREFIXES)
        and module not in ALLOWED_EXACT
        and not module.startswith(OFFLINE_SCREENS.get(str(path.relative_to(ui_dir)), ()))
    }
    assert offenders == set()
