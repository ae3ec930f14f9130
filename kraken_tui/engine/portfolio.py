"""Account value: balances valued at mid, peak equity, drawdown, daily PnL, and the check that our
fills explain the exchange's balances.

- Equity is every balance valued in the quote currency at the latest mid of `ASSET/QUOTE`;
  drawdown is measured from the highest equity seen (persisted, so a restart keeps the peak).
- Daily PnL is the change of trading PnL (realized net of fees plus unrealized, from the
  positions) since the first valuation of the current UTC day. It measures what trading did
  today, not what the market did to the assets the account already held.
- Balance check: `baseline + flows of stored fills` must equal the exchange's balances. The
  baseline is fixed the first time the engine meets an account (persisted), so later a missed
  fill, a double-counted one or an outside deposit shows up as a mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from loguru import logger

from kraken_tui.clock import Clock
from kraken_tui.domain import Balance, Execution, Instrument
from kraken_tui.engine.api import PortfolioSnapshot

ZERO = Decimal(0)
HUNDRED = Decimal(100)
DEFAULT_TOLERANCE = Decimal("0.00000001")
FIAT_SETTLEMENT_STEP = Decimal("0.0001")
"""Kraken keeps fiat balances to 4 decimals and settles each fill's cost and fee rounded to
them, so every fill may move a fiat balance by up to a step more or less than price x qty."""
FIAT = frozenset({"USD", "EUR", "GBP", "CAD", "JPY", "CHF", "AUD"})


@dataclass(frozen=True, slots=True)
class BalanceMismatch:
    asset: str
    expected: Decimal
    actual: Decimal

    def __str__(self) -> str:
        diff = self.actual - self.expected
        return (
            f"{self.asset}: fills explain {self.expected:f}, exchange holds {self.actual:f} "
            f"(difference {diff:f})"
        )


class PortfolioManager:
    def __init__(
        self,
        quote_ccy: str,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        tolerance: Decimal = DEFAULT_TOLERANCE,
        *,
        valued_symbols: Sequence[str] | None = None,
    ) -> None:
        """Equity counts the quote currency and the base assets of `valued_symbols` (the pairs
        the engine trades and so has prices for; default: every instrument). Other holdings
        are left out consistently, so the peak and the drawdown compare like with like."""
        self.quote_ccy = quote_ccy
        self._instruments = instruments
        symbols = instruments.keys() if valued_symbols is None else valued_symbols
        self._valued = {
            instruments[s].base
            for s in symbols
            if s in instruments and instruments[s].quote == quote_ccy
        }
        self._clock = clock
        self._tolerance = tolerance
        self._balances: dict[str, Decimal] = {}
        self._prices: dict[str, Decimal] = {}
        self._peak = ZERO
        self._day: date | None = None
        self._day_start_pnl = ZERO
        self._unvalued_warned: set[str] = set()
        self._suspect: set[str] = set()
        self._snapshot = PortfolioSnapshot(quote_ccy=quote_ccy)

    @property
    def valued_assets(self) -> frozenset[str]:
        """The assets equity counts besides the quote currency."""
        return frozenset(self._valued)

    @property
    def snapshot(self) -> PortfolioSnapshot:
        return self._snapshot

    @property
    def day_start(self) -> tuple[date | None, Decimal]:
        """The UTC day being measured and the trading PnL it started from (to persist)."""
        return self._day, self._day_start_pnl

    def restore(self, peak: Decimal, day: date | None, day_start_pnl: Decimal) -> None:
        self._peak = peak
        self._day, self._day_start_pnl = day, day_start_pnl

    def set_balances(self, balances: Mapping[str, Balance]) -> None:
        """Replace our view of the balances with the exchange's."""
        self._balances = {asset: balance.total for asset, balance in balances.items()}

    def apply_fill(self, execution: Execution) -> None:
        """Move the balances by one new fill, so equity follows fills between balance polls."""
        instrument = self._instruments[execution.symbol]
        signed = execution.side.sign * execution.qty
        self._add(instrument.base, signed)
        self._add(instrument.quote, -signed * execution.price)
        self._add(execution.fee_ccy, -execution.fee)

    def revalue(self, mids: Mapping[str, Decimal], trading_pnl: Decimal) -> PortfolioSnapshot:
        """Recompute equity, peak, drawdown and daily PnL; the snapshot is replaced only when a
        figure changed."""
        for symbol, mid in mids.items():
            self._prices[symbol] = mid
        equity = self._equity()
        if equity is None:
            # A valued asset has no price yet (books still arriving after a start): a partial
            # sum would look like a crash from the persisted peak, so keep the last figures.
            equity, drawdown = self._snapshot.equity, self._snapshot.drawdown_pct
        else:
            if self._balances:
                self._peak = max(self._peak, equity)
            drawdown = (self._peak - equity) / self._peak * HUNDRED if self._peak > 0 else ZERO
        today = self._clock.now().date()
        if self._day != today:
            self._day, self._day_start_pnl = today, trading_pnl
        snapshot = PortfolioSnapshot(
            quote_ccy=self.quote_ccy,
            equity=equity,
            peak_equity=self._peak,
            drawdown_pct=drawdown,
            daily_pnl=trading_pnl - self._day_start_pnl,
            balances=dict(self._balances),
        )
        if snapshot != self._snapshot:
            self._snapshot = snapshot
        return self._snapshot

    def baseline_for(
        self, balances: Mapping[str, Balance], flows: Mapping[str, Decimal]
    ) -> dict[str, Decimal]:
        """The balances the account had before the stored fills: fixed on first contact."""
        assets = set(balances) | set(flows)
        return {
            asset: (balances[asset].total if asset in balances else ZERO) - flows.get(asset, ZERO)
            for asset in assets
        }

    def compare(
        self,
        baseline: Mapping[str, Decimal],
        flows: Mapping[str, Decimal],
        balances: Mapping[str, Balance],
        settlements: Mapping[str, int] | None = None,
    ) -> list[BalanceMismatch]:
        """Assets whose exchange balance differs from baseline + fills beyond the tolerance:
        `settlements` counts the fills settled in each asset, each allowed one rounding step
        (fiat) of difference, since the exchange settles rounded costs, not price x qty."""
        mismatches = []
        for asset in sorted(set(baseline) | set(flows) | set(balances)):
            expected = baseline.get(asset, ZERO) + flows.get(asset, ZERO)
            actual = balances[asset].total if asset in balances else ZERO
            allowance = self._tolerance
            if settlements and asset in FIAT:
                allowance += FIAT_SETTLEMENT_STEP * settlements.get(asset, 0)
            if abs(actual - expected) > allowance:
                mismatches.append(BalanceMismatch(asset, expected, actual))
        return mismatches

    def report(self, mismatches: list[BalanceMismatch], *, confirmed: bool) -> None:
        """Alert on mismatches. A periodic check passes `confirmed=False`: a fill in flight
        between the balance query and its event can explain one check, so an asset must
        mismatch twice in a row before the CRITICAL alert; the start-up check is confirmed."""
        assets = {m.asset for m in mismatches}
        for mismatch in mismatches:
            if confirmed or mismatch.asset in self._suspect:
                logger.critical("balance mismatch: {}", mismatch)
            else:
                logger.warning("balance differs, rechecking: {}", mismatch)
        self._suspect = set() if confirmed else assets

    def _add(self, asset: str, amount: Decimal) -> None:
        self._balances[asset] = self._balances.get(asset, ZERO) + amount

    def _equity(self) -> Decimal | None:
        """Quote balance plus valued assets at their price; None while a valued asset that is
        held has no price yet."""
        total = ZERO
        for asset, amount in self._balances.items():
            if asset == self.quote_ccy:
                total += amount
                continue
            if asset not in self._valued:
                if amount != 0 and asset not in self._unvalued_warned:
                    self._unvalued_warned.add(asset)
                    logger.info(
                        "portfolio: {} {} not in equity (no traded {}/{} pair to value it)",
                        amount,
                        asset,
                        asset,
                        self.quote_ccy,
                    )
                continue
            price = self._prices.get(f"{asset}/{self.quote_ccy}")
            if price is None:
                if amount != 0:
                    return None
                continue
            total += amount * price
        return total
