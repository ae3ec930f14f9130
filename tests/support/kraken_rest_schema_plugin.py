"""pytest plugin: every REST answer a test sandbox gives is checked against Kraken's spec.

Enabled with `-p kraken_rest_schema_plugin`. It wraps the harness's server factory
(`sandbox_harness.build_server`, through which `running_sandbox`, `sandbox_in_thread` and the
sandbox fixtures start every in-process sandbox) so each server records the JSON bodies of
its `/0/public/*` and `/0/private/*` answers; the product's server is not touched. At the end
of the session the distinct bodies are validated against Kraken's REST OpenAPI description
(see `kraken_rest_schema`) and any mismatch fails the run. Without the spec on disk nothing
is validated and the summary says where the spec is expected. Sandboxes started as child
processes (the CLI, `SandboxProcess`) are outside its reach.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sandbox_harness
from aiohttp import web
from kraken_rest_schema import SPEC_ENV, SPEC_FILE, RestSchema, spec_dir

from kraken_tui.sandbox.server import SandboxConfig, SandboxServer

# Distinct bodies kept per endpoint: enough to meet every shape a suite produces (orders in
# each state, errors) without holding a long soak test's every answer.
MAX_BODIES_PER_PATH = 200
_REST_PREFIXES = ("/0/public/", "/0/private/")


class ResponseLog:
    """Distinct JSON bodies by spec path (`/private/AddOrder`: the URL without `/0`)."""

    def __init__(self) -> None:
        self.bodies: defaultdict[str, dict[str, Any]] = defaultdict(dict)

    def add(self, path: str, text: str) -> None:
        kept = self.bodies[path]
        if text not in kept and len(kept) < MAX_BODIES_PER_PATH:
            kept[text] = json.loads(text)

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        if (
            request.path.startswith(_REST_PREFIXES)
            and isinstance(response, web.Response)
            and response.status == 200
            and response.content_type == "application/json"
            and response.text is not None
        ):
            self.add(request.path.removeprefix("/0"), response.text)
        return response

    def errors(self, schema: RestSchema) -> list[str]:
        found: list[str] = []
        for path, bodies in sorted(self.bodies.items()):
            if not schema.knows(path):
                found.append(f"{path}: the sandbox answers it, Kraken's spec has no such call")
                continue
            for body in bodies.values():
                found.extend(schema.errors(path, body))
        return found


_log_key = pytest.StashKey[ResponseLog]()
_errors_key = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    log = ResponseLog()
    config.stash[_log_key] = log
    build = sandbox_harness.build_server

    def build_recording(sandbox_config: SandboxConfig) -> SandboxServer:
        server = build(sandbox_config)
        server.app.middlewares.append(log.middleware)
        return server

    sandbox_harness.build_server = build_recording


def pytest_sessionfinish(session: pytest.Session) -> None:
    openapi = spec_dir() / SPEC_FILE
    log = session.config.stash[_log_key]
    if not openapi.is_file() or not log.bodies:
        return
    errors = log.errors(RestSchema(openapi))
    session.config.stash[_errors_key] = errors
    if errors:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    openapi = spec_dir() / SPEC_FILE
    log = config.stash[_log_key]
    count = sum(len(bodies) for bodies in log.bodies.values())
    if not openapi.is_file():
        terminalreporter.write_line(
            f"Kraken REST schema: not checked, no spec at {openapi} (set {SPEC_ENV})"
        )
        return
    errors = config.stash.get(_errors_key, [])
    terminalreporter.section("Kraken REST schema")
    terminalreporter.write_line(
        f"{count} distinct sandbox answers on {len(log.bodies)} endpoints checked "
        f"against {openapi}: {len(errors)} mismatches"
    )
    for error in errors:
        terminalreporter.write_line(f"  {error}", red=True)
