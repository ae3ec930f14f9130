"""Events the engine publishes on its own bus, beside the exchange's."""

from __future__ import annotations

from dataclasses import dataclass

from kraken_tui.domain import Order


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """The order manager's view of an order changed (ack, fill progress, cancel, adoption).
    Going through the bus, instead of a direct callback, keeps strategy handlers out of the
    order manager's call stack: a strategy reacting to an update cannot re-enter it."""

    order: Order


@dataclass(frozen=True, slots=True)
class AmendRefused:
    """The exchange refused to amend `order` (left as it was) for `reason`: through the bus
    for the reason `OrderChanged` goes through it."""

    order: Order
    reason: str
