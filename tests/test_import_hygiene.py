"""The trading core never imports Textual, so it runs headless and in worker processes.

Every module of every headless package (found with `pkgutil.walk_packages`, not just the
package's `__init__`, which imports little or nothing) is imported in a fresh interpreter,
which must then hold no `textual` module. `__main__` modules are left out: importing one runs
its program, and all they import is the command-line module beside them, which is checked."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import kraken_tui

HEADLESS_PACKAGES = (
    "domain",
    "store",
    "exchange",
    "sandbox",
    "engine",
    "cache",
    "strategies",
    "indicators",
    "backtest",
    "ml",
    "preflight",
    "recording",
    "alerts",
    "notify",
)
CONSOLE_PACKAGES = ("ui",)

PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
    if any(m == "textual" or m.startswith("textual.") for m in sys.modules):
        print(name)
        break
"""
"""Imports the modules named on its command line in order and prints the first one after
which Textual is loaded: the module that pulled it in (or one it imports)."""


def runnable(name: str) -> bool:
    return name.rpartition(".")[2] != "__main__"


def modules_of_package(package: str) -> list[str]:
    root = importlib.import_module(f"kraken_tui.{package}")
    found = pkgutil.walk_packages(root.__path__, f"{root.__name__}.")
    return [root.__name__, *sorted(info.name for info in found if runnable(info.name))]


def top_level_modules() -> list[str]:
    found = pkgutil.iter_modules(kraken_tui.__path__, "kraken_tui.")
    return sorted(info.name for info in found if not info.ispkg and runnable(info.name))


def first_module_loading_textual(modules: list[str]) -> str:
    """'' when none of `modules` loads Textual in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("package", HEADLESS_PACKAGES)
def test_no_module_of_a_headless_package_imports_textual(package: str) -> None:
    modules = modules_of_package(package)
    assert len(modules) > 1, f"kraken_tui.{package} has no modules to check"
    assert first_module_loading_textual(modules) == ""


def test_no_top_level_module_imports_textual() -> None:
    modules = top_level_modules()
    assert {"kraken_tui.cli", "kraken_tui.runtime", "kraken_tui.settings"} <= set(modules)
    assert first_module_loading_textual(modules) == ""


def test_every_package_but_the_console_is_checked() -> None:
    packages = {info.name for info in pkgutil.iter_modules(kraken_tui.__path__) if info.ispkg}
    assert packages - set(CONSOLE_PACKAGES) == set(HEADLESS_PACKAGES)


def test_the_probe_names_the_module_that_loads_textual() -> None:
    modules = ["kraken_tui.domain", "kraken_tui.ui.app", "kraken_tui.engine.api"]
    assert first_module_loading_textual(modules) == "kraken_tui.ui.app"
