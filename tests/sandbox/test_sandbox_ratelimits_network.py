"""Kraken's rate limits enforced on the wire, seen by the SDK's clients."""

from __future__ import annotations

import pytest
from kraken.exceptions import KrakenApiLimitExceededError, KrakenRateLimitExceededError
from kraken.spot import Trade, User
from sandbox_harness import sandbox_in_thread

from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET
from kraken_tui.sandbox.ratelimits import Tier


def test_starter_key_is_refused_after_its_rest_counter_fills() -> None:
    with sandbox_in_thread(rate=0, tier=Tier.STARTER) as box:
        assert box.server is not None
        user = User(key=DEV_API_KEY, secret=DEV_API_SECRET, url=box.server.rest_url)
        for _ in range(15):
            user.get_account_balance()
        with pytest.raises(KrakenApiLimitExceededError):
            user.get_account_balance()


def test_cancelling_young_orders_hits_the_trading_limit_and_orders_skip_the_rest_counter() -> None:
    with sandbox_in_thread(rate=0, tier=Tier.STARTER) as box:
        assert box.server is not None
        trade = Trade(key=DEV_API_KEY, secret=DEV_API_SECRET, url=box.server.rest_url)
        placed = 0
        with pytest.raises(KrakenRateLimitExceededError):
            for _ in range(20):
                txid = trade.create_order(
                    ordertype="limit", side="buy", pair="XBTUSD", volume="0.01", price="40000.0"
                )["txid"][0]
                placed += 1
                trade.cancel_order(txid=txid)
        # 1 point per add plus 8 per cancel of an order under 5 s old: limit 60 is hit on
        # the 7th round (6 * 9 = 54, +1 = 55, +8 = 63), well past the REST counter's 15.
        assert placed == 7
