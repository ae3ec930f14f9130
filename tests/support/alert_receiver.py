"""A real HTTP receiver on loopback for Apprise's JSON webhook (``json://127.0.0.1:PORT/...``),
for tests that follow an alert out of the process (a test harness: it lives with the tests).

It records every POST body and can misbehave on purpose: `fail_next(n)` answers the next n
requests with HTTP 500, `hang_next(n)` holds the next n requests without answering until
`release()` (or the client gives up), so a test sees a destination that refuses or hangs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AlertReceiver:
    def __init__(self, port: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        self._fail = 0
        self._hang = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._release = threading.Event()
        self.hanging = threading.Event()
        """Set while a request is being held (a hang in progress)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "alerts/k7Hq2pZx9") -> str:
        """Apprise's JSON webhook URL for this receiver; the path holds a token-like part,
        as a real webhook's does, so redaction has something to remove."""
        return f"json://127.0.0.1:{self.port}/{path}"

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._fail = count

    def hang_next(self, count: int) -> None:
        with self._lock:
            self._hang = count
            self._release.clear()

    def release(self) -> None:
        self._release.set()

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 15.0
    ) -> list[dict[str, Any]]:
        """The received bodies once `predicate` holds on them; AssertionError after timeout."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while not predicate(self.received):
                left = deadline - time.monotonic()
                assert left > 0, f"receiver got {self.received!r}"
                self._arrived.wait(left)
            return list(self.received)

    def titles(self) -> list[str]:
        with self._lock:
            return [body["title"] for body in self.received]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests += 1
                    hang = receiver._hang > 0
                    fail = not hang and receiver._fail > 0
                    receiver._hang -= hang
                    receiver._fail -= fail
                if hang:
                    receiver.hanging.set()
                    receiver._release.wait(30)
                    receiver.hanging.clear()
                    return
                if fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                with receiver._arrived:
                    receiver.received.append(json.loads(body))
                    receiver._arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler

    def start(self) -> AlertReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def alert_receiver(port: int = 0) -> Iterator[AlertReceiver]:
    receiver = AlertReceiver(port).start()
    try:
        yield receiver
    finally:
        receiver.stop()
