"""Account ledgers: balances per asset and the part of them open orders hold.

Balances move only by settlement (`transfer`), holds only by order bookkeeping, so
`available = balance - hold` is the single number funds checks look at. The synthetic
liquidity account is `unlimited`: it may go negative, because it stands for the rest of the
market, and conservation is still checked across it like any other account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from kraken_tui.domain.money import ZERO


class Account:
    __slots__ = ("api_key", "balances", "holds", "unlimited")

    def __init__(
        self,
        api_key: str,
        balances: Mapping[str, Decimal] | None = None,
        *,
        unlimited: bool = False,
    ) -> None:
        self.api_key = api_key
        self.balances: dict[str, Decimal] = dict(balances or {})
        self.holds: dict[str, Decimal] = {}
        self.unlimited = unlimited

    def balance(self, asset: str) -> Decimal:
        return self.balances.get(asset, ZERO)

    def hold(self, asset: str) -> Decimal:
        return self.holds.get(asset, ZERO)

    def available(self, asset: str) -> Decimal:
        return self.balance(asset) - self.hold(asset)

    def change_hold(self, asset: str, delta: Decimal) -> None:
        if delta == 0:
            return
        new_hold = self.hold(asset) + delta
        if new_hold < 0:
            raise AssertionError(f"hold on {asset} would become negative: {new_hold}")
        if new_hold == 0:
            self.holds.pop(asset, None)
        else:
            self.holds[asset] = new_hold

    def credit(self, asset: str, amount: Decimal) -> None:
        self.balances[asset] = self.balance(asset) + amount

    def assets(self) -> Iterable[str]:
        return self.balances.keys() | self.holds.keys()
