"""Where failures in background work go: a notification and the log, never a dead screen.

`Worker.StateChanged` does not bubble, so every node that starts workers routes its own events
here; keeping the reporting in one function keeps the message format the same everywhere.
"""

from __future__ import annotations

from loguru import logger
from textual.dom import DOMNode
from textual.worker import Worker, WorkerState


def report_worker_failure(node: DOMNode, event: Worker.StateChanged) -> None:
    if event.state is not WorkerState.ERROR or event.worker.error is None:
        return
    error = event.worker.error
    name = event.worker.name or "background task"
    logger.opt(exception=error).error("worker {} failed", name)
    node.notify(
        f"{type(error).__name__}: {error}", title=f"{name} failed", severity="error", timeout=10
    )
