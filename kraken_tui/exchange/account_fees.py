"""The account's own fees, from REST `TradeVolume`.

AssetPairs lists a pair's whole fee table; which row applies depends on the account's
30-day volume, which only TradeVolume knows. Its answer (docs.kraken.com/api/docs/rest-api/
get-trade-volume; krakenfx/api-specs `spot-rest/schemas/responses/user/trades/volume.yaml`)
is `{currency, volume, fees: {PAIR: {fee, ...}}, fees_maker: {PAIR: {fee, ...}}}` with fees
in percent, keyed by the REST pair name; `fees_maker` is absent for pairs not on a
maker/taker schedule, whose one fee is then both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kraken_tui.domain.money import to_decimal

_PERCENT = Decimal(100)


@dataclass(frozen=True, slots=True)
class PairFees:
    """Fractions (0.0040 = 0.40 %)."""

    taker: Decimal
    maker: Decimal


@dataclass(frozen=True, slots=True)
class AccountFees:
    volume: Decimal
    """30-day volume counted towards the fee tier, in `currency`."""
    currency: str
    pairs: Mapping[str, PairFees]
    """By the pair name Kraken keyed them with (its REST name)."""


def account_fees_from_rest(result: Mapping[str, Any]) -> AccountFees:
    """Raises ValueError (or KeyError/TypeError) on an answer without Kraken's shape."""
    taker = result.get("fees") or {}
    maker = result.get("fees_maker") or {}
    pairs = {
        name: PairFees(
            taker=_fraction(info),
            maker=_fraction(maker[name]) if name in maker else _fraction(info),
        )
        for name, info in taker.items()
    }
    return AccountFees(
        volume=to_decimal(result["volume"], "volume"),
        currency=str(result.get("currency", "")),
        pairs=pairs,
    )


def _fraction(info: Mapping[str, Any]) -> Decimal:
    fee = to_decimal(info["fee"], "fee") / _PERCENT
    if not 0 <= fee < 1:
        raise ValueError(f"fee {info['fee']!r} is not a percentage below 100")
    return fee
