"""Kraken-shaped order, trade and ledger ids (`OABCDE-FGHIJ-KLMNOP`).

Random by default, as on Kraken; a seed makes a run's ids reproducible for tests that
compare whole replies.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Container
from random import Random

_ID_ALPHABET = string.ascii_uppercase + string.digits


class VenueIds:
    def __init__(self, seed: int | None = None) -> None:
        self._random: Random = Random(seed) if seed is not None else secrets.SystemRandom()

    def order_id(self, taken: Container[str]) -> str:
        while True:
            candidate = self._draw("O")
            if candidate not in taken:
                return candidate

    def ledger_id(self, taken: Container[str]) -> str:
        """A ledger entry id (`LXXXXX-XXXXX-XXXXXX`); QueryLedgers looks them up."""
        while True:
            candidate = self._draw("L")
            if candidate not in taken:
                return candidate

    def trade_id(self) -> str:
        """Fill, position and amend ids: never looked up, so not checked for reuse."""
        return self._draw("T")

    def _draw(self, prefix: str) -> str:
        chars = "".join(self._random.choice(_ID_ALPHABET) for _ in range(16))
        return f"{prefix}{chars[:5]}-{chars[5:10]}-{chars[10:]}"
