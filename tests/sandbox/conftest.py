"""Sandbox fixtures: a real server on a free loopback port (see kraken_tui.sandbox.testing)."""

from kraken_tui.sandbox.testing import quiet_sandbox, sandbox, sandbox_async

__all__ = ["quiet_sandbox", "sandbox", "sandbox_async"]
