"""The trading core never imports Textual, so it runs headless and in worker processes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

CORE_PACKAGES = [
    "kraken_tui.domain",
    "kraken_tui.store",
    "kraken_tui.exchange",
    "kraken_tui.sandbox",
    "kraken_tui.engine",
    "kraken_tui.strategies",
    "kraken_tui.indicators",
    "kraken_tui.backtest",
    "kraken_tui.cache",
    "kraken_tui.settings",
    "kraken_tui.logging",
]
# Foundation guarantees these; the rest are checked as soon as they exist.
REQUIRED = {"kraken_tui.domain", "kraken_tui.store", "kraken_tui.exchange", "kraken_tui.sandbox"}


def test_required_core_packages_exist() -> None:
    missing = sorted(name for name in REQUIRED if importlib.util.find_spec(name) is None)
    assert missing == []


@pytest.mark.parametrize("package", CORE_PACKAGES)
def test_core_package_imports_without_textual(package: str) -> None:
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} does not exist yet")
    probe = (
        f"import sys, {package}\n"
        "leaked = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{package} imported {result.stdout.strip()}"
