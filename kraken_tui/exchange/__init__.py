"""The one path between the engine and an exchange (live Kraken or the sandbox)."""
