"""Round trips: fills grouped into trades, from flat to flat, for win rate and profit factor.

A trade opens when the position leaves zero and closes when it returns to zero; a fill that
flips the position closes one trade and opens the next with the remainder. A trade's PnL is
the change of the position's realized PnL over its life, so it is net of every fee paid on
its fills (the domain `Position` realizes fees at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kraken_tui.domain import Execution, Position
from kraken_tui.domain.money import ZERO


@dataclass(frozen=True, slots=True)
class RoundTrip:
    side: str
    """'long' or 'short'."""
    entry_ts: datetime
    exit_ts: datetime | None
    """None while the trade is still open."""
    qty: Decimal
    """Largest absolute position reached."""
    entry_price: Decimal
    exit_price: Decimal | None
    pnl: Decimal
    """Net of fees; for an open trade, marked to the last price."""
    fees: Decimal
    fills: int

    @property
    def is_open(self) -> bool:
        return self.exit_ts is None


class RoundTripBuilder:
    """Fed every fill with the position before and after it; collects closed round trips."""

    def __init__(self) -> None:
        self.closed: list[RoundTrip] = []
        self._open = False
        self._side = ""
        self._entry_ts: datetime | None = None
        self._realized_at_entry = ZERO
        self._peak = ZERO
        self._entry_qty = ZERO
        self._entry_value = ZERO
        self._exit_qty = ZERO
        self._exit_value = ZERO
        self._fees = ZERO
        self._fills = 0

    def add(self, fill: Execution, before: Position, after: Position) -> None:
        if not self._open:
            self._start(fill, before, fill.qty)
        elif (before.qty > 0) == (fill.side.sign > 0):
            self._entry_qty += fill.qty
            self._entry_value += fill.qty * fill.price
            self._fees += fill.fee
            self._fills += 1
        else:
            closing = min(fill.qty, abs(before.qty))
            self._exit_qty += closing
            self._exit_value += closing * fill.price
            self._fees += fill.fee
            self._fills += 1
            if after.qty == 0 or (after.qty > 0) != (before.qty > 0):
                self.closed.append(self._trip(fill.ts, after.realized_pnl))
                self._open = False
                if after.qty != 0:
                    self._start(fill, after, abs(after.qty), fee=ZERO, counted=False)
        self._peak = max(self._peak, abs(after.qty))

    def open_trip(self, position: Position, mark: Decimal) -> RoundTrip | None:
        """The trade still open at the end, marked to `mark`."""
        if not self._open:
            return None
        unrealized = (mark - position.avg_price) * position.qty
        trip = self._trip(None, position.realized_pnl)
        return RoundTrip(
            side=trip.side,
            entry_ts=trip.entry_ts,
            exit_ts=None,
            qty=trip.qty,
            entry_price=trip.entry_price,
            exit_price=None,
            pnl=trip.pnl + unrealized,
            fees=trip.fees,
            fills=trip.fills,
        )

    def _start(
        self,
        fill: Execution,
        reference: Position,
        qty: Decimal,
        *,
        fee: Decimal | None = None,
        counted: bool = True,
    ) -> None:
        self._open = True
        self._side = "long" if fill.side.sign > 0 else "short"
        self._entry_ts = fill.ts
        self._realized_at_entry = reference.realized_pnl
        self._peak = qty
        self._entry_qty = qty
        self._entry_value = qty * fill.price
        self._exit_qty = ZERO
        self._exit_value = ZERO
        self._fees = fill.fee if fee is None else fee
        self._fills = 1 if counted else 0

    def _trip(self, exit_ts: datetime | None, realized: Decimal) -> RoundTrip:
        assert self._entry_ts is not None
        return RoundTrip(
            side=self._side,
            entry_ts=self._entry_ts,
            exit_ts=exit_ts,
            qty=self._peak,
            entry_price=self._entry_value / self._entry_qty,
            exit_price=self._exit_value / self._exit_qty if self._exit_qty else None,
            pnl=realized - self._realized_at_entry,
            fees=self._fees,
            fills=self._fills,
        )
