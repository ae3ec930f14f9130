"""Keeps the exchange's dead man's switch armed while we hold open orders.

If the process dies, hangs or loses the network, Kraken cancels every order of the account
when the timeout passes without a refresh. Kraken recommends a 60 s timeout refreshed every
15-30 s; we refresh every timeout/4 and disarm once no order of ours is open, so a manual order
placed on the website later is not cancelled by a switch we left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from loguru import logger

from kraken_tui.exchange.protocol import Exchange, ExchangeError

RefreshFailed = Callable[[str, int], None]
"""Told of a failed refresh: the error and how many refreshes in a row have failed."""


class DeadManSwitch:
    def __init__(
        self,
        exchange: Exchange,
        timeout_s: int,
        holds_orders: Callable[[], bool],
        on_refresh_failed: RefreshFailed | None = None,
    ) -> None:
        self._exchange = exchange
        self.timeout_s = timeout_s
        self._holds_orders = holds_orders
        self._on_refresh_failed = on_refresh_failed
        self.armed = False
        self.refreshes = 0
        self.failures_in_a_row = 0

    @property
    def interval_s(self) -> float:
        return max(self.timeout_s / 4, 1.0)

    async def refresh(self) -> None:
        """One step: arm/refresh while orders are open, disarm when none are."""
        if self.timeout_s <= 0:
            return
        try:
            if self._holds_orders():
                await self._exchange.cancel_all_after(self.timeout_s)
                if not self.armed:
                    logger.info("dead man's switch armed ({} s)", self.timeout_s)
                self.armed = True
                self.refreshes += 1
            elif self.armed:
                await self._exchange.cancel_all_after(0)
                self.armed = False
                logger.info("dead man's switch disarmed: no open orders")
            self.failures_in_a_row = 0
        except ExchangeError as exc:
            self.failures_in_a_row += 1
            logger.error("dead man's switch refresh failed: {}", exc)
            if self._on_refresh_failed is not None:
                self._on_refresh_failed(str(exc), self.failures_in_a_row)

    async def run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval_s)

    async def disarm(self) -> None:
        if self.timeout_s > 0 and self.armed:
            await self._exchange.cancel_all_after(0)
            self.armed = False
