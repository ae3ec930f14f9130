"""One venue step at a time: its timestamp, its events, and what it changed.

A venue call is one atomic step. Every event it emits carries the same timestamp, taken
when the outermost step begins; what the step changed (orders, accounts, fills, balance
moves, ledger entries, pairs whose top of book moved) is collected here and handed to the
venue once the outermost step ends, so it emits one batch of balance events and writes one store
transaction per call, however many fills the call made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from kraken_tui.domain.money import ZERO
from kraken_tui.sandbox.events import Listener, VenueEvent
from kraken_tui.sandbox.ledger_history import LedgerEntry
from kraken_tui.sandbox.matching import LiveOrder
from kraken_tui.sandbox.records import FillView


@dataclass(frozen=True, slots=True)
class BalanceMove:
    """An account's net move in one asset during a step; a hold-only change moves 0."""

    amount: Decimal
    change_type: str
    ref_id: str


@dataclass(slots=True)
class StepChanges:
    accounts: set[str] = field(default_factory=set)
    orders: dict[str, LiveOrder] = field(default_factory=dict)
    fills: list[FillView] = field(default_factory=list)
    ledger_entries: list[LedgerEntry] = field(default_factory=list)
    balance_moves: dict[tuple[str, str], BalanceMove] = field(default_factory=dict)
    pairs: set[str] = field(default_factory=set)


class VenueJournal:
    def __init__(self, clock: Callable[[], float], settle: Callable[[StepChanges], None]) -> None:
        self._clock = clock
        self._settle = settle
        self._listeners: list[Listener] = []
        self._depth = 0
        self._changes = StepChanges()
        self.now = clock()
        """The current step's timestamp."""

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Register a listener for every event; returns the function that unregisters it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    @property
    def listening(self) -> bool:
        """Whether anyone listens: building an event is skipped when nobody does."""
        return bool(self._listeners)

    def emit(self, event: VenueEvent) -> None:
        for listener in self._listeners:
            listener(event)

    @contextmanager
    def step(self) -> Iterator[None]:
        if self._depth == 0:
            self.now = self._clock()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                changes, self._changes = self._changes, StepChanges()
                self._settle(changes)

    def touch_order(self, order: LiveOrder) -> None:
        self._changes.orders[order.txid] = order

    def touch_account(self, api_key: str) -> None:
        self._changes.accounts.add(api_key)

    def touch_pair(self, symbol: str) -> None:
        """The pair's top of book may have moved: sample its spread when the step ends."""
        self._changes.pairs.add(symbol)

    def record_fill(self, fill: FillView) -> None:
        self._changes.fills.append(fill)

    def post_ledger_entry(self, entry: LedgerEntry) -> None:
        self._changes.ledger_entries.append(entry)

    def move_balance(
        self, api_key: str, asset: str, amount: Decimal, change_type: str, ref_id: str
    ) -> None:
        self._changes.accounts.add(api_key)
        previous = self._changes.balance_moves.get((api_key, asset))
        total = amount + (previous.amount if previous else ZERO)
        self._changes.balance_moves[(api_key, asset)] = BalanceMove(total, change_type, ref_id)

    def move_hold(self, api_key: str, asset: str, ref_id: str) -> None:
        """A hold changed: report the balance (unchanged in total) unless a move already is."""
        self._changes.balance_moves.setdefault((api_key, asset), BalanceMove(ZERO, "hold", ref_id))

    def discard(self) -> None:
        """Forget changes made outside a step (loading the store is not a change)."""
        self._changes = StepChanges()
