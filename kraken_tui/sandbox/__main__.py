"""`python -m kraken_tui.sandbox` runs the standalone sandbox server."""

from kraken_tui.sandbox.cli_sandbox import main

main()
