"""The Redis layer runs in headless engines: importing it must not pull in Textual (only
`attach` imports the console, inside the function)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_cache_package_does_not_import_textual() -> None:
    modules = [
        "kraken_tui.cache.cli_remote",
        "kraken_tui.cache.commands",
        "kraken_tui.cache.publisher",
        "kraken_tui.cache.remote",
        "kraken_tui.cache.service",
        "kraken_tui.cache.instruments",
    ]
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in modules)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
