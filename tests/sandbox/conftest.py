"""Sandbox fixtures: a real server on a free loopback port (tests/support/sandbox_harness.py)."""

from sandbox_harness import quiet_sandbox, sandbox, sandbox_async

__all__ = ["quiet_sandbox", "sandbox", "sandbox_async"]
