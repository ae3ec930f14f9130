"""Stopping background Redis loops without cancelling a Redis call in flight.

redis-py 8's asyncio client can hang for good when a task is cancelled while a connection is
being set up (seen here: the cancelled task waits on a socket that never answers), so each
loop here checks a `StopSignal` between short, bounded calls instead (XREAD blocks 200 ms,
pub/sub reads time out after 200 ms) and `finish` cancels only a loop that ignored it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from loguru import logger

STOP_GRACE_S = 2.0
POLL_S = 0.2


class StopSignal:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds`, or less if a stop is requested meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max(seconds, 0))


async def finish(
    task: asyncio.Task[None] | None,
    stop: StopSignal,
    grace_s: float = STOP_GRACE_S,
    wake: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Ask `task` to stop, give it `grace_s` to notice, then cancel it; never waits forever.
    `wake` makes a blocked read return at once (an UNSUBSCRIBE answers a pub/sub read)
    instead of at its next timeout."""
    stop.set()
    if task is None or task.done():
        return
    if wake is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(wake(), grace_s)
    done, _ = await asyncio.wait({task}, timeout=grace_s)
    if done:
        return
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=grace_s)
    if not done:
        logger.debug("background task {} did not stop; abandoned", task.get_name())
