"""kraken-tui: a terminal trading console for the Kraken spot exchange."""

__version__ = "0.1.0"
