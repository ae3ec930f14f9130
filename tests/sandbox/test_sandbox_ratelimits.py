"""Kraken's REST call counter and per-pair trading counter, on an injected clock."""

from __future__ import annotations

import pytest

from kraken_tui.sandbox.ratelimits import (
    REST_RATE_LIMIT,
    TRADING_RATE_LIMIT,
    RateLimiter,
    Tier,
    TradingAction,
    trading_cost,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_starter_rest_counter_refuses_the_sixteenth_call_then_recovers_by_decay() -> None:
    clock = FakeClock()
    limiter = RateLimiter(tier=Tier.STARTER, clock=clock)
    for _ in range(15):
        assert limiter.charge_rest_call("k", "Balance") is None
    assert limiter.charge_rest_call("k", "Balance") == REST_RATE_LIMIT
    clock.now += 1 / 0.33 + 0.01
    assert limiter.charge_rest_call("k", "Balance") is None


def test_trade_history_costs_two_and_order_calls_cost_nothing_on_rest_counter() -> None:
    limiter = RateLimiter(tier=Tier.PRO, clock=FakeClock())
    limiter.charge_rest_call("k", "TradesHistory")
    limiter.charge_rest_call("k", "AddOrder")
    limiter.charge_rest_call("k", "CancelOrder")
    assert limiter.rest_counter("k") == pytest.approx(2.0)


def test_counters_are_per_key() -> None:
    limiter = RateLimiter(tier=Tier.STARTER, clock=FakeClock())
    for _ in range(15):
        limiter.charge_rest_call("a", "Balance")
    assert limiter.charge_rest_call("a", "Balance") == REST_RATE_LIMIT
    assert limiter.charge_rest_call("b", "Balance") is None


@pytest.mark.parametrize(
    ("action", "age", "cost"),
    [
        (TradingAction.ADD, None, 1),
        (TradingAction.CANCEL, 1.0, 8),
        (TradingAction.CANCEL, 7.0, 6),
        (TradingAction.CANCEL, 12.0, 5),
        (TradingAction.CANCEL, 30.0, 4),
        (TradingAction.CANCEL, 60.0, 2),
        (TradingAction.CANCEL, 200.0, 1),
        (TradingAction.CANCEL, 400.0, 0),
        (TradingAction.AMEND, 1.0, 4),
        (TradingAction.AMEND, 20.0, 1),
        (TradingAction.EDIT, 1.0, 7),
        (TradingAction.EDIT, 60.0, 2),
    ],
)
def test_trading_cost_follows_krakens_age_table(
    action: TradingAction, age: float | None, cost: float
) -> None:
    assert trading_cost(action, age) == cost


def test_cancelling_young_orders_exhausts_the_pair_counter_but_not_other_pairs() -> None:
    limiter = RateLimiter(tier=Tier.STARTER, clock=FakeClock())
    refused = None
    for attempt in range(20):
        add = limiter.charge_trading("k", "BTC/USD", trading_cost(TradingAction.ADD, None))
        cancel = limiter.charge_trading("k", "BTC/USD", trading_cost(TradingAction.CANCEL, 0.5))
        if TRADING_RATE_LIMIT in (add, cancel):
            refused = attempt
            break
    assert refused == 6  # 9 points per add+cancel, limit 60
    assert limiter.charge_trading("k", "ETH/USD", 1) is None


def test_disabled_limiter_never_refuses() -> None:
    limiter = RateLimiter(enabled=False, clock=FakeClock())
    assert all(limiter.charge_rest_call("k", "Balance") is None for _ in range(100))
