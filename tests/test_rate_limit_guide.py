"""Kraken's rate-limit guide, written down once, and both of our models held to it: the
client's (kraken_tui/exchange/ratelimit.py, which waits instead of being refused) and the
sandbox's (kraken_tui/sandbox/ratelimits.py, which refuses as Kraken does). Neither model
is the reference for the other; a number changed in one place and not in the guide fails.

Sources, quoted as numbers below:
- REST call counter: docs.kraken.com/api/docs/guides/spot-rest-ratelimits ("Ledger/trade
  history calls increase the counter by 2. All other API calls increase this counter by 1
  (except AddOrder, CancelOrder which operate on a different limiter)"; tier table
  Starter 15 / -0.33 per s, Intermediate 20 / -0.5, Pro 20 / -1).
- Trading counter costs: docs.kraken.com/api/docs/guides/spot-ratelimits (fixed count and
  the decaying count by order age: <5s, <10s, <15s, <45s, <90s, <300s).
- Trading thresholds: support.kraken.com/hc/en-us/articles/360045239571 (Intermediate 125
  at 2.34/s, Pro 180 at 3.75/s); Starter 60 at 1/s from Kraken's own SDK guide
  krakenfx/kraken-api-sdk rust/docs/guides/rate-limits.md.
"""

from __future__ import annotations

import pytest

from kraken_tui.exchange import ratelimit as client
from kraken_tui.sandbox import ratelimits as sandbox

GUIDE_REST_TIERS = {"starter": (15, 0.33), "intermediate": (20, 0.5), "pro": (20, 1.0)}
GUIDE_TRADING_TIERS = {"starter": (60, 1.0), "intermediate": (125, 2.34), "pro": (180, 3.75)}

GUIDE_AGE_BRACKETS_S = (5, 10, 15, 45, 90, 300)
# action: (fixed, penalty for an order younger than each bracket bound)
GUIDE_TRADING_COSTS = {
    "add": (1, (0, 0, 0, 0, 0, 0)),
    "amend": (1, (3, 2, 1, 0, 0, 0)),
    "edit": (1, (6, 5, 4, 2, 1, 0)),
    "cancel": (0, (8, 6, 5, 4, 2, 1)),
}

HISTORY_CALLS = ("Ledgers", "QueryLedgers", "TradesHistory", "QueryTrades")
EXEMPT_CALLS = ("AddOrder", "CancelOrder")
ORDINARY_CALLS = (
    "Balance",
    "BalanceEx",
    "TradeBalance",
    "OpenOrders",
    "ClosedOrders",
    "QueryOrders",
    "OrderAmends",
    "TradeVolume",
    "GetWebSocketsToken",
    # not exempt, although they trade: the guide names only AddOrder and CancelOrder
    "AddOrderBatch",
    "AmendOrder",
    "EditOrder",
    "CancelOrderBatch",
    "CancelAll",
    "CancelAllOrdersAfter",
)


def _guide_cost(method: str) -> int:
    if method in EXEMPT_CALLS:
        return 0
    return 2 if method in HISTORY_CALLS else 1


@pytest.mark.parametrize("method", HISTORY_CALLS + EXEMPT_CALLS + ORDINARY_CALLS)
def test_both_models_charge_each_private_call_what_the_guide_says(method: str) -> None:
    expected = _guide_cost(method)
    assert client.rest_call_cost(method) == expected
    assert sandbox.rest_call_cost(method) == expected


@pytest.mark.parametrize("tier", GUIDE_REST_TIERS)
def test_both_models_use_the_guides_tier_maxima_and_decay_rates(tier: str) -> None:
    rest_max, rest_decay = GUIDE_REST_TIERS[tier]
    trading_max, trading_decay = GUIDE_TRADING_TIERS[tier]
    client_rest = client.REST_LIMITS[client.Tier(tier)]
    client_trading = client.TRADE_LIMITS[client.Tier(tier)]
    assert (client_rest.maximum, client_rest.decay_per_s) == (rest_max, rest_decay)
    assert (client_trading.maximum, client_trading.decay_per_s) == (trading_max, trading_decay)
    limits = sandbox.TIER_LIMITS[sandbox.Tier(tier)]
    assert (limits.rest_max, limits.rest_decay_per_s) == (rest_max, rest_decay)
    assert (limits.trading_max, limits.trading_decay_per_s) == (trading_max, trading_decay)


def _ages_around_each_bracket() -> list[tuple[float, int]]:
    """(age, bracket index or len for "older than every bracket") at both sides of each bound."""
    cases = [(0.0, 0)]
    for index, bound in enumerate(GUIDE_AGE_BRACKETS_S):
        cases += [(bound - 0.01, index), (float(bound), index + 1)]
    return cases


@pytest.mark.parametrize("action", GUIDE_TRADING_COSTS)
@pytest.mark.parametrize(("age", "bracket"), _ages_around_each_bracket())
def test_both_models_charge_the_guides_fixed_cost_plus_age_penalty(
    action: str, age: float, bracket: int
) -> None:
    fixed, penalties = GUIDE_TRADING_COSTS[action]
    expected = fixed + (penalties[bracket] if bracket < len(penalties) else 0)
    assert client.trade_cost(client.TradeAction(action), age) == expected
    assert sandbox.trading_cost(sandbox.TradingAction(action), age) == expected


def test_a_new_order_costs_only_the_fixed_add_count_in_both_models() -> None:
    assert client.trade_cost(client.TradeAction.ADD, None) == 1
    assert sandbox.trading_cost(sandbox.TradingAction.ADD, None) == 1


def test_client_batch_costs_follow_the_guide() -> None:
    """Batch add is +n/2 fixed; batch cancel is the cancel penalty per order, no discount."""
    assert client.batch_add_cost(6) == 3
    assert client.batch_cancel_cost([1.0, 7.0, 400.0]) == 8 + 6 + 0


def test_sandbox_refuses_the_sixteenth_dead_man_refresh_at_starter_as_kraken_would() -> None:
    """CancelAllOrdersAfter is not exempt, so a burst of refreshes runs into the limit."""
    now = [0.0]
    limiter = sandbox.RateLimiter(tier=sandbox.Tier.STARTER, clock=lambda: now[0])
    results = [limiter.charge_rest_call("k", "CancelAllOrdersAfter") for _ in range(16)]
    assert results[:15] == [None] * 15
    assert results[15] == sandbox.REST_RATE_LIMIT
