"""Positions built from executions only, per symbol (the account) and per strategy.

A position is never set from the outside: it is the fold of `Position.apply` over the fills the
store holds, so a restart rebuilds exactly what was there and a fill recovered late moves it
exactly once (the store's `insert_if_new` decides which fills are new).

The same fold yields each asset's net flow (what the fills added to or took from each balance),
which is what the portfolio compares with the exchange's balances.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from kraken_tui.domain import Execution, Instrument, Position, Side

ZERO = Decimal(0)


class PositionManager:
    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = instruments
        self._by_symbol: dict[str, Position] = {}
        self._by_strategy: dict[tuple[str, str], Position] = {}
        self._flows: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)
        self._settlements: Counter[str] = Counter()
        self._marks: dict[str, Decimal] = {}
        self._positions: tuple[Position, ...] = ()

    @property
    def positions(self) -> tuple[Position, ...]:
        """Account positions then strategy positions, sorted; immutable and replaced on change."""
        return self._positions

    def position(self, symbol: str) -> Position:
        return self._by_symbol.get(symbol) or Position(symbol, mark=self._marks.get(symbol))

    def strategy_position(self, symbol: str, strategy: str) -> Position:
        return self._by_strategy.get((symbol, strategy)) or Position(
            symbol, strategy=strategy, mark=self._marks.get(symbol)
        )

    def strategy_positions(self, strategy: str) -> list[Position]:
        return [p for (_, name), p in self._by_strategy.items() if name == strategy]

    def asset_flows(self) -> dict[str, Decimal]:
        """Net change of each asset's balance caused by the fills applied so far."""
        return dict(self._flows)

    def settlements(self) -> dict[str, int]:
        """How many fills settled in each asset as their quote (each one rounded by the
        exchange to that asset's precision, which the balance check must allow for)."""
        return dict(self._settlements)

    def trading_pnl(self) -> Decimal:
        """Realized (net of fees) plus unrealized PnL of every account position, in quote."""
        return sum((p.realized_pnl + p.unrealized_pnl for p in self._by_symbol.values()), ZERO)

    def strategy_pnl(self, strategy: str) -> Decimal:
        return sum(
            (p.realized_pnl + p.unrealized_pnl for p in self.strategy_positions(strategy)), ZERO
        )

    def apply(self, execution: Execution, strategy: str | None) -> list[Position]:
        """Fold one new fill in; returns the positions it changed (account, then strategy).

        A fee paid in base (Kraken's `fcib`, its default for sells) costs base units: they
        leave the position at the fill's price (as if sold there for nothing), and the fee
        is realized at its quote value. A fee in an asset other than base or quote moves
        that asset's flow; with no price for it here, it is not in the PnL."""
        instrument = self._instrument(execution.symbol)
        in_base = execution.fee_ccy == instrument.base
        in_quote = execution.fee_ccy == instrument.quote
        fee_value = execution.fee * execution.price if in_base else execution.fee
        args = (
            execution.side,
            execution.qty,
            execution.price,
            fee_value if in_base or in_quote else ZERO,
            execution.ts,
        )
        changed = [self._fold(self.position(execution.symbol), execution, args, in_base)]
        self._by_symbol[execution.symbol] = changed[0]
        if strategy is not None:
            key = (execution.symbol, strategy)
            changed.append(self._fold(self.strategy_position(*key), execution, args, in_base))
            self._by_strategy[key] = changed[1]
        self._flows[instrument.base] += execution.side.sign * execution.qty
        self._flows[instrument.quote] -= execution.side.sign * execution.qty * execution.price
        self._flows[execution.fee_ccy] -= execution.fee
        self._settlements[instrument.quote] += 1
        self._publish()
        return changed

    @staticmethod
    def _fold(
        position: Position,
        execution: Execution,
        args: tuple[Side, Decimal, Decimal, Decimal, datetime],
        fee_in_base: bool,
    ) -> Position:
        after = position.apply(*args)
        if fee_in_base and execution.fee > 0:
            # disposing of the units at the fill price realizes (price - avg) x fee; with the
            # fee's value realized above, the fill loses the fee units' cost basis, avg x fee
            after = after.apply(Side.SELL, execution.fee, execution.price, ZERO, execution.ts)
        return after

    def mark(self, symbol: str, price: Decimal) -> bool:
        """Value the symbol's positions at `price` (mid); True when anything changed."""
        if self._marks.get(symbol) == price:
            return False
        self._marks[symbol] = price
        position = self._by_symbol.get(symbol)
        if position is not None:
            self._by_symbol[symbol] = replace(position, mark=price)
        for key, held in self._by_strategy.items():
            if key[0] == symbol:
                self._by_strategy[key] = replace(held, mark=price)
        if position is not None:
            self._publish()
        return position is not None

    def _instrument(self, symbol: str) -> Instrument:
        try:
            return self._instruments[symbol]
        except KeyError:
            raise KeyError(f"execution for unknown instrument {symbol}") from None

    def _publish(self) -> None:
        self._positions = tuple(sorted(self._by_symbol.values(), key=lambda p: p.symbol)) + tuple(
            sorted(self._by_strategy.values(), key=lambda p: (p.symbol, p.strategy or ""))
        )
