"""``python -m kraken_tui`` runs the same command line as ``kraken-tui``."""

from kraken_tui.cli import main

main()
