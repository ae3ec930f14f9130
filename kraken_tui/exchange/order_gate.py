"""The kill switch's hold on order entry, inside the exchange adapter.

Risk denies new orders the moment trading is HALTED, but requests that passed risk earlier can
still be waiting in the process: behind the client-side rate limiter (a burst of 150 orders on
the starter tier drains at one a second), behind the serialised private REST connection, or in
a back-off after a rate-limit refusal. Closing the gate refuses all of them locally and at once,
and the adapter checks it again immediately before each request goes on the wire, so nothing
that enters or enlarges an order leaves the process after the switch fires. Cancels never pass
through the gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable
from typing import TypeVar

from kraken_tui.exchange.protocol import OrderEntryHalted

T = TypeVar("T")


class OrderEntryGate:
    def __init__(self) -> None:
        self._reason: str | None = None
        self._closed = asyncio.Event()

    def close(self, reason: str) -> None:
        """Refuse every order entry from now on, waking the requests already waiting."""
        self._reason = reason
        self._closed.set()

    def open(self) -> None:
        self._reason = None
        self._closed = asyncio.Event()

    def check(self) -> None:
        """Raise `OrderEntryHalted` when closed; called last thing before the wire."""
        if self._reason is not None:
            raise OrderEntryHalted(
                f"not sent: order entry halted ({self._reason})",
                kraken_error=f"not sent: {self._reason}",
            )

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """Await something that only waits (a rate-limiter slot, a back-off) and give up the
        moment the gate closes. Never wrap the request itself: cancelling a request already on
        the wire would leave its outcome unknown."""
        if self._reason is not None:
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never started: nothing to wait for, nothing charged
            self.check()
        waiting = asyncio.ensure_future(awaitable)
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait((waiting, closed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            if not waiting.done():
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
        self.check()
        return waiting.result()
