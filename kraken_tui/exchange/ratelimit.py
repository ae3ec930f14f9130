"""Client-side model of Kraken's rate limits, so requests wait instead of being refused.

Kraken keeps two kinds of decaying counters per API key: one REST call counter (private
endpoints; AddOrder and CancelOrder excluded) and one trading counter per pair, which
matching-engine transactions charge with a fixed cost plus a penalty that is larger the
younger the order being amended, edited or cancelled. A request that would push a counter past
its limit is refused with `EAPI:Rate limit exceeded` / `EOrder:Rate limit exceeded`; here the
caller instead sleeps until the modelled counter has decayed enough. Because other clients of
the same key also spend the budget, a small headroom is kept and an exchange rate-limit error
saturates the local counter (`penalize_*`) so later calls back off for a full decay period.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from loguru import logger

Clock = Callable[[], float]
# Decay arithmetic leaves float residue; below this a cost counts as fitting, or a sleep
# for the residue could fail to advance a coarse clock and spin.
_EPSILON = 1e-9
Sleep = Callable[[float], Awaitable[None]]


class Tier(StrEnum):
    STARTER = "starter"
    INTERMEDIATE = "intermediate"
    PRO = "pro"


@dataclass(frozen=True, slots=True)
class CounterLimits:
    """A counter is refused above `maximum`; it decays by `decay_per_s` towards zero."""

    maximum: float
    decay_per_s: float


REST_LIMITS: dict[Tier, CounterLimits] = {
    Tier.STARTER: CounterLimits(15, 0.33),
    Tier.INTERMEDIATE: CounterLimits(20, 0.5),
    Tier.PRO: CounterLimits(20, 1.0),
}
TRADE_LIMITS: dict[Tier, CounterLimits] = {
    Tier.STARTER: CounterLimits(60, 1.0),
    Tier.INTERMEDIATE: CounterLimits(125, 2.34),
    Tier.PRO: CounterLimits(180, 3.75),
}

# Kraken's REST rate-limit guide (docs.kraken.com/api/docs/guides/spot-rest-ratelimits):
# ledger and trade-history queries cost 2, every other call 1, "except AddOrder, CancelOrder"
# which are on the trading counter only. CancelAll, CancelAllOrdersAfter, EditOrder,
# AmendOrder and the batch calls are not exempt: 20 dead-man refreshes in a row hit the limit.
_HISTORY_METHODS = frozenset({"Ledgers", "QueryLedgers", "TradesHistory", "QueryTrades"})
_TRADING_METHODS = frozenset({"AddOrder", "CancelOrder"})


def rest_call_cost(private_method: str) -> int:
    """What a private REST call adds to the REST counter (0 for AddOrder and CancelOrder)."""
    if private_method in _TRADING_METHODS:
        return 0
    return 2 if private_method in _HISTORY_METHODS else 1


class TradeAction(StrEnum):
    ADD = "add"
    AMEND = "amend"
    EDIT = "edit"
    CANCEL = "cancel"


# (age below which the penalty applies, penalty) per action, youngest bracket first.
_AGE_PENALTIES: dict[TradeAction, tuple[tuple[float, int], ...]] = {
    TradeAction.ADD: (),
    TradeAction.AMEND: ((5, 3), (10, 2), (15, 1)),
    TradeAction.EDIT: ((5, 6), (10, 5), (15, 4), (45, 2), (90, 1)),
    TradeAction.CANCEL: ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1)),
}
_FIXED_COST: dict[TradeAction, int] = {
    TradeAction.ADD: 1,
    TradeAction.AMEND: 1,
    TradeAction.EDIT: 1,
    TradeAction.CANCEL: 0,
}


def trade_cost(action: TradeAction, order_age_s: float | None = None) -> float:
    """Trading-counter cost of one transaction on an order of the given age in seconds; an
    unknown age is charged as the youngest (the dearest), which is never optimistic."""
    penalty = 0
    for below, points in _AGE_PENALTIES[action]:
        if order_age_s is None or order_age_s < below:
            penalty = points
            break
    return _FIXED_COST[action] + penalty


def batch_add_cost(orders: int) -> float:
    return orders / 2


def batch_cancel_cost(order_ages_s: Iterable[float | None]) -> float:
    return sum(trade_cost(TradeAction.CANCEL, age) for age in order_ages_s)


class DecayingCounter:
    """One linearly decaying counter, evaluated lazily from the injected clock."""

    __slots__ = ("_clock", "_updated", "_value", "limits")

    def __init__(self, limits: CounterLimits, clock: Clock) -> None:
        self.limits = limits
        self._clock = clock
        self._value = 0.0
        self._updated = clock()

    def value(self) -> float:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._value = max(0.0, self._value - elapsed * self.limits.decay_per_s)
        self._updated = now
        return self._value

    def add(self, cost: float) -> None:
        self._value = self.value() + cost

    def saturate(self, ceiling: float) -> None:
        self._value = max(self.value(), ceiling)

    def wait_for(self, cost: float, ceiling: float) -> float:
        """Seconds until `cost` more fits under `ceiling` (0 when it fits now)."""
        excess = self.value() + cost - ceiling
        return excess / self.limits.decay_per_s if excess > _EPSILON else 0.0


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """Counter values for the UI: `rest` against `rest_max`, and each pair's trade counter."""

    tier: Tier
    rest: float
    rest_max: float
    trade: dict[str, float]
    trade_max: float


class RateLimiter:
    """Waits callers out instead of letting Kraken refuse them. Waiters on one counter are
    served in arrival order (the lock is held while sleeping), so a burst drains fairly."""

    def __init__(
        self,
        tier: Tier = Tier.STARTER,
        *,
        rest_headroom: float = 1.0,
        trade_headroom: float = 2.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.tier = tier
        self._clock = clock
        self._sleep = sleep
        self._rest_limits = REST_LIMITS[tier]
        self._trade_limits = TRADE_LIMITS[tier]
        self._rest_ceiling = self._rest_limits.maximum - rest_headroom
        self._trade_ceiling = self._trade_limits.maximum - trade_headroom
        if self._rest_ceiling < 2 or self._trade_ceiling < 2:
            raise ValueError("headroom leaves no budget for a single call")
        self._rest = DecayingCounter(self._rest_limits, clock)
        self._rest_lock = asyncio.Lock()
        self._trade: dict[str, DecayingCounter] = {}
        self._trade_locks: dict[str, asyncio.Lock] = {}

    # -- REST counter --------------------------------------------------------------------

    async def acquire_rest(self, cost: float = 1) -> float:
        """Wait until a private REST call of `cost` fits, charge it; returns seconds waited."""
        if cost <= 0:
            return 0.0
        cost = min(cost, self._rest_ceiling)
        async with self._rest_lock:
            return await self._wait_and_charge(self._rest, cost, self._rest_ceiling)

    def charge_rest(self, cost: float = 1) -> None:
        """Charge without waiting: for the few calls that must leave at once (CancelAll from
        the kill switch, the dead man's switch). The headroom kept below Kraken's maximum is
        what lets them through when ordinary calls have filled the counter to our ceiling."""
        if cost > 0:
            self._rest.add(cost)

    def penalize_rest(self) -> None:
        """The exchange refused a call anyway: assume the counter is full."""
        self._rest.saturate(self._rest_limits.maximum)

    def rest_counter(self) -> float:
        return self._rest.value()

    # -- per-pair trading counter --------------------------------------------------------

    def _trade_counter(self, pair: str) -> DecayingCounter:
        counter = self._trade.get(pair)
        if counter is None:
            counter = self._trade[pair] = DecayingCounter(self._trade_limits, self._clock)
            self._trade_locks[pair] = asyncio.Lock()
        return counter

    async def acquire_trade(self, pair: str, cost: float) -> float:
        """Wait until a matching-engine transaction of `cost` fits on `pair`, charge it."""
        counter = self._trade_counter(pair)
        if cost <= 0:
            return 0.0
        cost = min(cost, self._trade_ceiling)
        async with self._trade_locks[pair]:
            return await self._wait_and_charge(counter, cost, self._trade_ceiling)

    def record_trade(self, pair: str, cost: float) -> None:
        """Charge without waiting: for cancels, which must never be delayed by our own model
        (Kraken applies their penalty but does not refuse them)."""
        self._trade_counter(pair).add(cost)

    def penalize_trade(self, pair: str) -> None:
        self._trade_counter(pair).saturate(self._trade_limits.maximum)

    def trade_counter(self, pair: str) -> float:
        counter = self._trade.get(pair)
        return counter.value() if counter is not None else 0.0

    def state(self) -> RateLimitState:
        return RateLimitState(
            tier=self.tier,
            rest=self._rest.value(),
            rest_max=self._rest_limits.maximum,
            trade={pair: counter.value() for pair, counter in self._trade.items()},
            trade_max=self._trade_limits.maximum,
        )

    async def _wait_and_charge(
        self, counter: DecayingCounter, cost: float, ceiling: float
    ) -> float:
        waited = 0.0
        while (delay := counter.wait_for(cost, ceiling)) > 0:
            await self._sleep(delay)
            waited += delay
        counter.add(cost)
        return waited


RATE_LIMIT_ERRORS = (
    "EAPI:Rate limit exceeded",
    "EOrder:Rate limit exceeded",
    "EService: Throttled",
    "EService:Throttled",
    "EGeneral:Temporary lockout",
)
_THROTTLED_UNTIL = re.compile(r"Throttled:\s*\[?(\d+(?:\.\d+)?)\]?")


def is_rate_limit_error(message: str) -> bool:
    return any(message.startswith(prefix) for prefix in RATE_LIMIT_ERRORS)


def retry_delay(
    message: str,
    attempt: int,
    *,
    base_s: float = 1.0,
    cap_s: float = 60.0,
    now: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """How long to back off after the exchange still answered with a rate-limit error:
    until the timestamp `EService: Throttled: [ts]` names if it does, otherwise exponential
    in `attempt` (0-based) with jitter, so concurrent retries spread out."""
    match = _THROTTLED_UNTIL.search(message)
    if match is not None:
        wait = float(match.group(1)) - (time.time() if now is None else now)
        if wait > 0:
            return min(wait, cap_s)
    ceiling = min(cap_s, base_s * 2**attempt)
    delay = (rng or random).uniform(ceiling / 2, ceiling)
    logger.debug("rate-limit back-off {:.2f}s after {!r} (attempt {})", delay, message, attempt)
    return delay
