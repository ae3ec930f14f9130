"""Kraken's two rate limiters, as Kraken enforces them.

The REST call counter is per API key: each call adds 1 (2 for ledger and trade-history
queries), the counter decays continuously at the tier's rate, and a call that would push it
past the tier's maximum is refused with `EAPI:Rate limit exceeded`. Only AddOrder and
CancelOrder are excluded: they count on the trading counter alone, which is per API key
and pair, shared by REST and WebSocket, and charges extra for amending, editing or
cancelling an order shortly after it was placed (the younger the order, the higher the
penalty) so that quote-stuffing costs more than resting orders. Every other private call,
CancelAll, CancelAllOrdersAfter, EditOrder, AmendOrder and the batch calls included, costs
on the REST counter like any query.

Sources: docs.kraken.com/api/docs/guides/spot-rest-ratelimits (REST counter, tiers, the
AddOrder/CancelOrder exemption), docs.kraken.com/api/docs/guides/spot-ratelimits (trading
counter costs), support.kraken.com article 360045239571 (Intermediate and Pro trading
thresholds and decay) and krakenfx/kraken-api-sdk rust/docs/guides/rate-limits.md (Starter
trading threshold 60, decay 1/s).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import StrEnum

REST_RATE_LIMIT = "EAPI:Rate limit exceeded"
TRADING_RATE_LIMIT = "EOrder:Rate limit exceeded"


class Tier(StrEnum):
    STARTER = "starter"
    INTERMEDIATE = "intermediate"
    PRO = "pro"


@dataclass(frozen=True, slots=True)
class TierLimits:
    rest_max: float
    rest_decay_per_s: float
    trading_max: float
    trading_decay_per_s: float
    open_orders_per_pair: int


TIER_LIMITS: dict[Tier, TierLimits] = {
    Tier.STARTER: TierLimits(15, 0.33, 60, 1.0, 60),
    Tier.INTERMEDIATE: TierLimits(20, 0.5, 125, 2.34, 80),
    Tier.PRO: TierLimits(20, 1.0, 180, 3.75, 225),
}

HEAVY_REST_METHODS = frozenset({"Ledgers", "QueryLedgers", "TradesHistory", "QueryTrades"})
"""Ledger and trade-history queries cost 2 on the REST counter."""

TRADING_REST_METHODS = frozenset({"AddOrder", "CancelOrder"})
"""The only calls the REST counter leaves to the trading counter, per Kraken's guide."""


def rest_call_cost(method: str) -> float:
    """What one private REST call adds to the REST counter."""
    if method in TRADING_REST_METHODS:
        return 0.0
    return 2.0 if method in HEAVY_REST_METHODS else 1.0


class TradingAction(StrEnum):
    ADD = "add"
    AMEND = "amend"
    EDIT = "edit"
    CANCEL = "cancel"


_AGE_BOUNDS_S = (5.0, 10.0, 15.0, 45.0, 90.0, 300.0)
_FIXED_COST: dict[TradingAction, float] = {
    TradingAction.ADD: 1.0,
    TradingAction.AMEND: 1.0,
    TradingAction.EDIT: 1.0,
    TradingAction.CANCEL: 0.0,
}
_AGE_PENALTY: dict[TradingAction, tuple[float, ...]] = {
    TradingAction.ADD: (0, 0, 0, 0, 0, 0),
    TradingAction.AMEND: (3, 2, 1, 0, 0, 0),
    TradingAction.EDIT: (6, 5, 4, 2, 1, 0),
    TradingAction.CANCEL: (8, 6, 5, 4, 2, 1),
}


def trading_cost(action: TradingAction, order_age_s: float | None) -> float:
    """Points one transaction adds: the fixed part plus the penalty for the order's age
    (`order_age_s` is None for new orders)."""
    cost = _FIXED_COST[action]
    if order_age_s is None:
        return cost
    for bound, penalty in zip(_AGE_BOUNDS_S, _AGE_PENALTY[action], strict=True):
        if order_age_s < bound:
            return cost + penalty
    return cost


@dataclass(slots=True)
class _DecayingCounter:
    value: float = 0.0
    updated_at: float = 0.0

    def current(self, now: float, decay_per_s: float) -> float:
        return max(0.0, self.value - (now - self.updated_at) * decay_per_s)


@dataclass
class RateLimiter:
    """Both counters for every key; `clock` is injectable so tests need not sleep."""

    tier: Tier = Tier.STARTER
    enabled: bool = True
    clock: Callable[[], float] = time.monotonic
    _rest: dict[Hashable, _DecayingCounter] = field(default_factory=dict)
    _trading: dict[Hashable, _DecayingCounter] = field(default_factory=dict)

    @property
    def limits(self) -> TierLimits:
        return TIER_LIMITS[self.tier]

    def charge_rest_call(self, api_key: str, method: str) -> str | None:
        """Count one private REST call; return Kraken's error when the key is over its limit."""
        cost = rest_call_cost(method)
        if cost == 0:
            return None
        return self._charge(
            self._rest,
            api_key,
            cost,
            self.limits.rest_max,
            self.limits.rest_decay_per_s,
            REST_RATE_LIMIT,
        )

    def charge_trading(self, api_key: str, pair: str, cost: float) -> str | None:
        """Count a trading transaction on `pair`; return Kraken's error when over the limit.
        A refused transaction is not charged, like Kraken, which then drops it."""
        return self._charge(
            self._trading,
            (api_key, pair),
            cost,
            self.limits.trading_max,
            self.limits.trading_decay_per_s,
            TRADING_RATE_LIMIT,
        )

    def rest_counter(self, api_key: str) -> float:
        counter = self._rest.get(api_key)
        return (
            0.0 if counter is None else counter.current(self.clock(), self.limits.rest_decay_per_s)
        )

    def _charge(
        self,
        counters: dict[Hashable, _DecayingCounter],
        key: Hashable,
        cost: float,
        maximum: float,
        decay_per_s: float,
        error: str,
    ) -> str | None:
        if not self.enabled:
            return None
        now = self.clock()
        counter = counters.setdefault(key, _DecayingCounter(updated_at=now))
        value = counter.current(now, decay_per_s)
        counter.value, counter.updated_at = value, now
        if value + cost > maximum:
            return error
        counter.value = value + cost
        return None
