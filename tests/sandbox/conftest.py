"""Sandbox fixtures: a real server on a free loopback port (see kraken_tui.sandbox.testing)."""

from kraken_tui.sandbox.testing import sandbox, sandbox_async

__all__ = ["sandbox", "sandbox_async"]
