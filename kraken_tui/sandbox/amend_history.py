"""Each order's amend trail, as REST OrderAmends reports it.

Kraken lists an order's original values first (`amend_type` `original`), then one entry per
amend the user made (`user`), oldest first
(krakenfx/api-specs spot-rest/openapi_v3.yaml, /private/OrderAmends). An order's values only
change through an amend, so the original entry is taken the first time it is needed: at the
order's first amend, or when OrderAmends asks about an order never amended.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.sandbox.ids import VenueIds
from kraken_tui.sandbox.matching import LiveOrder


@dataclass(frozen=True, slots=True)
class AmendRecord:
    amend_id: str
    amend_type: str
    order_qty: Decimal
    remaining_qty: Decimal
    limit_price: Decimal | None
    trigger_price: Decimal | None
    post_only: bool
    timestamp: float


class AmendHistory:
    def __init__(self, ids: VenueIds) -> None:
        self._ids = ids
        self._trails: dict[str, list[AmendRecord]] = {}

    def keep_original(self, order: LiveOrder) -> None:
        """Take the order's original values unless already kept; call it before an amend
        changes them."""
        if order.txid not in self._trails:
            self._trails[order.txid] = [self._record(order, "original", order.volume, order.opentm)]

    def trail(self, order: LiveOrder) -> list[AmendRecord]:
        """The order's trail, its original values first."""
        self.keep_original(order)
        return list(self._trails[order.txid])

    def amended(self, order: LiveOrder, now: float) -> str:
        """Record a user amend that gave `order` its current values; returns the amend id."""
        self.keep_original(order)
        record = self._record(order, "user", order.volume - order.vol_exec, now)
        self._trails[order.txid].append(record)
        return record.amend_id

    def _record(
        self, order: LiveOrder, amend_type: str, remaining: Decimal, at: float
    ) -> AmendRecord:
        return AmendRecord(
            amend_id=self._ids.trade_id(),
            amend_type=amend_type,
            order_qty=order.volume,
            remaining_qty=remaining,
            limit_price=order.price,
            trigger_price=order.trigger_price,
            post_only=order.post_only,
            timestamp=at,
        )
