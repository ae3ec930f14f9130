"""The account ledger Kraken keeps: one entry per asset a transaction moved.

A fill moves two assets, so it posts two entries, each with its own `L…` id and the fill's
trade id as `refid`; the fee is kept apart from the amount (`balance` = previous balance +
`amount` - `fee`). REST Ledgers/QueryLedgers list these entries, TradesHistory points at
them (`ledgers`) and the WS v2 `balances` channel streams each one as it is posted
(docs.kraken.com/api/docs/rest-api/get-ledgers, .../websocket-v2/balances).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.sandbox.errors import VenueError, invalid_argument
from kraken_tui.sandbox.records import Page


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """`asset` is the REST code (`XXBT`, `ZUSD`); `balance` the asset's total after it."""

    ledger_id: str
    api_key: str
    refid: str
    time: float
    type: str
    asset: str
    amount: Decimal
    fee: Decimal
    balance: Decimal
    subtype: str = ""


class LedgerHistory:
    """Every account's entries in posting order; Kraken's pages are newest first."""

    def __init__(self) -> None:
        self._entries: dict[str, list[LedgerEntry]] = {}
        self._by_id: dict[str, LedgerEntry] = {}
        self._by_ref: dict[str, list[str]] = {}

    def __contains__(self, ledger_id: object) -> bool:
        return ledger_id in self._by_id

    def add(self, entry: LedgerEntry) -> None:
        self._entries.setdefault(entry.api_key, []).append(entry)
        self._by_id[entry.ledger_id] = entry
        self._by_ref.setdefault(entry.refid, []).append(entry.ledger_id)

    def ids_for(self, refid: str) -> list[str]:
        """The entries a transaction posted (TradesHistory's `ledgers` of a fill)."""
        return list(self._by_ref.get(refid, ()))

    def query(self, api_key: str, ledger_ids: Sequence[str]) -> list[LedgerEntry]:
        """The named entries of this account; ids of other accounts are not found."""
        found = (self._by_id.get(ledger_id) for ledger_id in ledger_ids)
        return [entry for entry in found if entry is not None and entry.api_key == api_key]

    def page(
        self,
        api_key: str,
        *,
        assets: Collection[str] | None,
        entry_type: str | None,
        start: str | None,
        end: str | None,
        offset: int,
        limit: int,
    ) -> Page[LedgerEntry]:
        """Kraken's bounds: `start` exclusive, `end` inclusive, each unix seconds or a
        ledger id (meaning that entry's time)."""
        lower = self._bound(api_key, start, "start")
        upper = self._bound(api_key, end, "end")
        matching = [
            entry
            for entry in reversed(self._entries.get(api_key, ()))
            if (assets is None or entry.asset in assets)
            and (entry_type is None or entry.type == entry_type)
            and (lower is None or entry.time > lower)
            and (upper is None or entry.time <= upper)
        ]
        first = max(offset, 0)
        return Page(matching[first : first + limit], len(matching))

    def _bound(self, api_key: str, value: str | None, name: str) -> float | None:
        if value is None:
            return None
        entry = self._by_id.get(value)
        if entry is not None and entry.api_key == api_key:
            return entry.time
        try:
            return float(value)
        except ValueError:
            raise VenueError(invalid_argument(name)) from None
