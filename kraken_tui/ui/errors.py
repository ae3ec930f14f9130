"""Where failures in background work go: a notification and the log, never a dead screen.

`Worker.StateChanged` does not bubble, so every node that starts workers routes its own events
here; keeping the reporting in one function keeps the message format the same everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec

from loguru import logger
from textual.app import App
from textual.widget import Widget
from textual.worker import Worker, WorkerState

P = ParamSpec("P")


def report_worker_failure(node: Widget | App[Any], event: Worker.StateChanged) -> None:
    if event.state is not WorkerState.ERROR or event.worker.error is None:
        return
    error = event.worker.error
    name = event.worker.name or "background task"
    logger.opt(exception=error).error("worker {} failed", name)
    node.notify(
        f"{type(error).__name__}: {error}", title=f"{name} failed", severity="error", timeout=10
    )


def guarded(action: Callable[P, None]) -> Callable[P, None]:
    """Wrap a key action or message handler of a widget (or the app) so that an exception in it
    becomes a notification and a log entry instead of ending the app (Textual exits on an
    unhandled exception in a handler)."""

    @functools.wraps(action)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            action(*args, **kwargs)
        except Exception as exc:
            node = args[0] if args else None
            if not isinstance(node, Widget | App):
                raise
            logger.opt(exception=exc).error("{} failed", action.__name__)
            node.notify(
                f"{type(exc).__name__}: {exc}",
                title=f"{action.__name__.removeprefix('action_')} failed",
                severity="error",
                timeout=10,
            )

    return wrapper
