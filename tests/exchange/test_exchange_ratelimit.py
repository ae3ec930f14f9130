"""The rate-limit model on a virtual clock: callers wait exactly as long as Kraken requires."""

from __future__ import annotations

import asyncio
import random

import pytest

from kraken_tui.exchange.ratelimit import (
    RateLimiter,
    Tier,
    TradeAction,
    batch_add_cost,
    batch_cancel_cost,
    is_rate_limit_error,
    rest_call_cost,
    retry_delay,
    trade_cost,
)


class VirtualClock:
    """Time that passes only when someone sleeps; sleeping yields to the event loop."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def limiter_for(tier: Tier, clock: VirtualClock, **kwargs: float) -> RateLimiter:
    return RateLimiter(tier, clock=clock, sleep=clock.sleep, **kwargs)


@pytest.mark.parametrize(
    ("method", "cost"),
    [("Balance", 1), ("OpenOrders", 1), ("Ledgers", 2), ("TradesHistory", 2), ("AddOrder", 0)],
)
def test_rest_call_costs_follow_krakens_table(method: str, cost: int) -> None:
    assert rest_call_cost(method) == cost


@pytest.mark.parametrize(
    ("action", "age", "cost"),
    [
        (TradeAction.ADD, None, 1),
        (TradeAction.CANCEL, 1.0, 8),
        (TradeAction.CANCEL, 5.0, 6),
        (TradeAction.CANCEL, 60.0, 2),
        (TradeAction.CANCEL, 299.9, 1),
        (TradeAction.CANCEL, 300.0, 0),
        (TradeAction.CANCEL, None, 8),
        (TradeAction.AMEND, 2.0, 4),
        (TradeAction.AMEND, 20.0, 1),
        (TradeAction.EDIT, 2.0, 7),
        (TradeAction.EDIT, 50.0, 2),
        (TradeAction.EDIT, 100.0, 1),
    ],
)
def test_trade_costs_are_fixed_plus_an_order_age_penalty(
    action: TradeAction, age: float | None, cost: float
) -> None:
    assert trade_cost(action, age) == cost


def test_batch_costs() -> None:
    assert batch_add_cost(10) == 5
    assert batch_cancel_cost([1.0, 20.0, None]) == 8 + 4 + 8


async def test_starter_rest_burst_waits_for_decay_instead_of_exceeding(
    clock: VirtualClock,
) -> None:
    limiter = limiter_for(Tier.STARTER, clock, rest_headroom=0)
    start = clock.now
    for _ in range(15):
        assert await limiter.acquire_rest(1) == 0
    assert limiter.rest_counter() == pytest.approx(15)

    waited = await limiter.acquire_rest(1)

    assert waited == pytest.approx(1 / 0.33)
    assert clock.now - start == pytest.approx(1 / 0.33)
    assert limiter.rest_counter() <= 15 + 1e-9


async def test_counter_never_exceeds_the_maximum_under_a_sustained_load(
    clock: VirtualClock,
) -> None:
    limiter = limiter_for(Tier.INTERMEDIATE, clock, rest_headroom=0)
    peaks = []
    for cost in [1, 2] * 40:
        await limiter.acquire_rest(cost)
        peaks.append(limiter.rest_counter())
    assert max(peaks) <= 20 + 1e-9
    # 120 points at 0.5/s, less the 20 that fitted up front.
    assert clock.now - 1_000.0 == pytest.approx((120 - 20) / 0.5)


async def test_counter_decays_while_idle(clock: VirtualClock) -> None:
    limiter = limiter_for(Tier.PRO, clock)
    for _ in range(10):
        await limiter.acquire_rest(1)
    clock.now += 4
    assert limiter.rest_counter() == pytest.approx(6)
    clock.now += 100
    assert limiter.rest_counter() == 0


async def test_concurrent_callers_are_served_in_arrival_order(clock: VirtualClock) -> None:
    limiter = limiter_for(Tier.PRO, clock, rest_headroom=0)
    for _ in range(20):
        await limiter.acquire_rest(1)
    finished: list[int] = []

    async def call(index: int) -> None:
        await limiter.acquire_rest(1)
        finished.append(index)

    await asyncio.gather(*(call(i) for i in range(5)))
    assert finished == [0, 1, 2, 3, 4]
    assert clock.now - 1_000.0 == pytest.approx(5.0)


async def test_trading_counters_are_per_pair(clock: VirtualClock) -> None:
    limiter = limiter_for(Tier.STARTER, clock, trade_headroom=0)
    for _ in range(60):
        assert await limiter.acquire_trade("BTC/USD", trade_cost(TradeAction.ADD)) == 0
    assert await limiter.acquire_trade("ETH/USD", 1) == 0

    waited = await limiter.acquire_trade("BTC/USD", 1)

    assert waited == pytest.approx(1.0)
    state = limiter.state()
    assert state.trade["BTC/USD"] == pytest.approx(60)
    assert state.trade["ETH/USD"] == pytest.approx(0)  # decayed during the wait
    assert (state.trade_max, state.rest_max, state.tier) == (60, 15, Tier.STARTER)


async def test_cancels_are_recorded_without_waiting_but_delay_the_next_add(
    clock: VirtualClock,
) -> None:
    limiter = limiter_for(Tier.INTERMEDIATE, clock, trade_headroom=0)
    for _ in range(120):
        await limiter.acquire_trade("BTC/USD", 1)
    limiter.record_trade("BTC/USD", trade_cost(TradeAction.CANCEL, 1.0))
    assert limiter.trade_counter("BTC/USD") == pytest.approx(128)
    assert clock.now == 1_000.0

    waited = await limiter.acquire_trade("BTC/USD", 1)
    assert waited == pytest.approx((128 + 1 - 125) / 2.34)


async def test_headroom_keeps_a_margin_below_krakens_limit(clock: VirtualClock) -> None:
    limiter = limiter_for(Tier.STARTER, clock, rest_headroom=3)
    for _ in range(12):
        assert await limiter.acquire_rest(1) == 0
    assert await limiter.acquire_rest(1) > 0


async def test_an_exchange_rate_limit_error_saturates_the_counter(clock: VirtualClock) -> None:
    limiter = limiter_for(Tier.PRO, clock, rest_headroom=0)
    await limiter.acquire_rest(1)
    limiter.penalize_rest()
    assert limiter.rest_counter() == 20
    assert await limiter.acquire_rest(1) == pytest.approx(1.0)

    limiter.penalize_trade("BTC/USD")
    assert limiter.trade_counter("BTC/USD") == 180


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("EAPI:Rate limit exceeded", True),
        ("EOrder:Rate limit exceeded", True),
        ("EService: Throttled: 1700000000", True),
        ("EGeneral:Temporary lockout", True),
        ("EOrder:Insufficient funds", False),
        ("EAPI:Invalid nonce", False),
    ],
)
def test_rate_limit_errors_are_recognised(message: str, expected: bool) -> None:
    assert is_rate_limit_error(message) is expected


def test_retry_delay_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    delays = [retry_delay("EAPI:Rate limit exceeded", attempt, rng=rng) for attempt in range(8)]
    for attempt, delay in enumerate(delays):
        ceiling = min(60.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert delays[-1] >= 30


def test_retry_delay_honours_a_throttled_until_timestamp() -> None:
    delay = retry_delay("EService: Throttled: [1700000012]", 0, now=1_700_000_000.0)
    assert delay == pytest.approx(12.0)


def test_headroom_that_leaves_no_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="headroom"):
        RateLimiter(Tier.STARTER, rest_headroom=14)
