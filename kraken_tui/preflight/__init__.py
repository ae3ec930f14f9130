"""`kraken-tui preflight`: everything about the configured exchange and credentials that can
be checked without trading, as a checklist."""
