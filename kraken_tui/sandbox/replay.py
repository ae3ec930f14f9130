"""Replay of a Kraken time-and-sales CSV as the sandbox's market for one pair.

Kraken's downloadable trade history has no header and three columns: unix timestamp
(seconds, possibly fractional), price, volume. Replaying it prints those trades, in order,
at their prices and volumes, with the aggressor side inferred by the tick rule (an uptick
was a buy). The synthetic book keeps quoting around the last replayed price so clients see
a live book, and users' orders trade whenever the replayed prices reach them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.market import MarketSimulator


@dataclass(frozen=True, slots=True)
class CsvTrade:
    timestamp: float
    price: Decimal
    volume: Decimal


def read_trades_csv(path: str | Path) -> Iterator[CsvTrade]:
    """Rows of a Kraken time-and-sales file, lazily; a malformed row raises ValueError
    naming its line, since silently skipping history would distort the replay."""
    with Path(path).open(newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            try:
                timestamp, price, volume = row[:3]
                trade = CsvTrade(float(timestamp), Decimal(price), Decimal(volume))
            except (ValueError, InvalidOperation) as exc:
                raise ValueError(f"{path}:{line_no}: not a Kraken trade row: {row!r}") from exc
            if trade.price <= 0 or trade.volume <= 0:
                raise ValueError(f"{path}:{line_no}: price and volume must be positive")
            yield trade


class TradesReplay:
    """Drives `symbol` from recorded trades; call `step(now)` instead of the simulator's.

    CSV time is mapped onto the caller's clock: the first trade plays at the first `step`,
    later ones `(ts - first_ts) / speed` seconds after it. Trades printed by the venue carry
    the venue's clock, not the CSV's, so clients see a live-looking feed."""

    def __init__(
        self,
        simulator: MarketSimulator,
        symbol: str,
        trades: Iterable[CsvTrade],
        *,
        speed: float = 1.0,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._simulator = simulator
        self._symbol = symbol
        self._trades = iter(trades)
        self._speed = speed
        self._pending: CsvTrade | None = next(self._trades, None)
        self._first_ts = self._pending.timestamp if self._pending else 0.0
        self._started_at: float | None = None
        self._last_price: Decimal | None = None
        self._last_side = Side.BUY
        self.replayed = 0
        simulator.follow_external_price(symbol)
        if self._pending is not None:
            simulator.set_fair_value(symbol, self._pending.price, trade_through=False)

    @property
    def finished(self) -> bool:
        return self._pending is None

    def step(self, now: float) -> int:
        """Print every recorded trade due by `now`, then let the simulator churn the books.
        Returns the book events produced."""
        if self._started_at is None:
            self._started_at = now
        events = self._simulator.step(now)
        due_by = self._first_ts + (now - self._started_at) * self._speed
        before = self._simulator.book_events
        while self._pending is not None and self._pending.timestamp <= due_by:
            self._print(self._pending)
            self._pending = next(self._trades, None)
        return events + self._simulator.book_events - before

    def _print(self, trade: CsvTrade) -> None:
        if self._last_price is not None and trade.price != self._last_price:
            self._last_side = Side.BUY if trade.price > self._last_price else Side.SELL
        self._last_price = trade.price
        self._simulator.print_trade(self._symbol, self._last_side, trade.price, trade.volume)
        self.replayed += 1
