"""Helpers of the backtest tests (imported by name: pytest puts this directory on sys.path):
hand-written bars for tests that need exact prices, and the venue twin of the closed-form
market settlement."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl

from kraken_tui.backtest.broker import API_KEY, MarketSettlement
from kraken_tui.backtest.data import BAR_SCHEMA, Bars
from kraken_tui.domain import Side
from kraken_tui.sandbox.errors import VenueError
from kraken_tui.sandbox.fees import FeeSchedule
from kraken_tui.sandbox.pairs import PairRegistry
from kraken_tui.sandbox.venue import SandboxVenue

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
NO_FEES = FeeSchedule(maker=Decimal(0), taker=Decimal(0))


def bars_from(rows: list[tuple[float, float, float, float]], volume: float = 5.0) -> Bars:
    """1-minute bars from (open, high, low, close) rows, starting at T0."""
    frame = pl.DataFrame(
        {
            "ts": [T0 + MINUTE * i for i in range(len(rows))],
            "open": [r[0] for r in rows],
            "high": [r[1] for r in rows],
            "low": [r[2] for r in rows],
            "close": [r[3] for r in rows],
            "volume": [volume] * len(rows),
            "trades": [10] * len(rows),
        },
        schema=BAR_SCHEMA,
    )
    return Bars(frame, 1)


class SettlementTwin:
    """A venue account and a `MarketSettlement` funded alike, to hold the closed form to the
    venue's own result: each step meets one synthetic level of unlimited depth on both."""

    def __init__(self, taker_bps: int, cash: Decimal = Decimal(50_000)) -> None:
        fees = FeeSchedule(maker=Decimal(0), taker=Decimal(taker_bps) / 10_000)
        self.pair = PairRegistry().resolve("XBT/USD")
        self.venue = SandboxVenue(
            PairRegistry([self.pair]), fees=fees, clock=lambda: 1e9, id_seed=1
        )
        self.venue.open_account(API_KEY, {self.pair.quote.code: cash})
        self.fast = MarketSettlement(self.pair, fees, cash)

    def assert_same(
        self,
        maker_side: Side,
        price: Decimal,
        on_venue: Callable[[SandboxVenue], object],
        on_settlement: Callable[[MarketSettlement], object],
    ) -> None:
        """Same refusal (or none) on both, and the same balances after."""
        quote = self.venue.place_synthetic(self.pair.symbol, maker_side, price, Decimal(10**9))
        assert quote is not None
        venue_error = _refusal(lambda: on_venue(self.venue))
        self.venue.cancel_synthetic(quote)
        assert _refusal(lambda: on_settlement(self.fast)) == venue_error
        balances = self.venue.balances(API_KEY)
        assert self.fast.quote == balances[self.pair.quote.code]
        assert self.fast.base == balances.get(self.pair.base.code, Decimal(0))


def _refusal(action: Callable[[], object]) -> str | None:
    try:
        action()
    except VenueError as error:
        return error.error
    return None
