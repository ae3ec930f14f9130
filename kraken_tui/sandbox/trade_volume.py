"""REST `TradeVolume`: an account's 30-day USD volume and the fees it pays per pair.

The result has Kraken's shape (docs.kraken.com/api/docs/rest-api/get-trade-volume;
krakenfx/api-specs `spot-rest/schemas/responses/user/trades/volume.yaml` and
`spot-rest/schemas/objects/user/volume/fees.yaml`): `currency` (always `ZUSD`), `volume`,
and, only for the pairs named in `pair`, taker fees under `fees` and maker fees under
`fees_maker`, each `{fee, min_fee, max_fee, next_fee, tier_volume, next_volume}` in percent
as strings, `next_*` null at the last tier.

The sandbox charges one flat schedule (`FeeSchedule`) whatever an account trades, so `fee`
is that rate and `tier_volume`/`next_*` place it in Kraken's tier table. Volume counts the
account's USD-quoted fills of the last 30 days of venue time; fills in another quote are
left out (the sandbox keeps no conversion rates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from kraken_tui.sandbox.errors import VenueError, invalid_argument
from kraken_tui.sandbox.pairs import MAKER_FEE_TIERS, TAKER_FEE_TIERS, PairInfo
from kraken_tui.sandbox.records import FillView

THIRTY_DAYS_S = 30 * 86_400
VOLUME_CURRENCY = "ZUSD"
_PERCENT = Decimal(100)


def requested_pairs(pair_param: str | None, resolve: Callable[[str], PairInfo]) -> list[PairInfo]:
    """The pairs of Kraken's comma-delimited `pair` (spaces after commas allowed, as in the
    docs' own example); none when absent. An unknown name is `EQuery:Unknown asset pair`."""
    if pair_param is None:
        return []
    names = [name.strip() for name in pair_param.split(",")]
    if any(not name for name in names):
        raise VenueError(invalid_argument("pair"))
    return [resolve(name) for name in names]


def usd_volume(fills: Sequence[FillView]) -> Decimal:
    return sum((fill.cost for fill in fills if fill.rest_pair.endswith("USD")), Decimal(0))


def trade_volume(
    volume: Decimal, pairs: Sequence[PairInfo], maker_rate: Decimal, taker_rate: Decimal
) -> dict[str, Any]:
    result: dict[str, Any] = {"currency": VOLUME_CURRENCY, "volume": _amount(volume)}
    if pairs:
        taker = _fee_info(taker_rate * _PERCENT, TAKER_FEE_TIERS)
        maker = _fee_info(maker_rate * _PERCENT, MAKER_FEE_TIERS)
        result["fees"] = {pair.rest_name: taker for pair in pairs}
        result["fees_maker"] = {pair.rest_name: maker for pair in pairs}
    return result


def _fee_info(fee_pct: Decimal, tiers: Sequence[tuple[int, Decimal]]) -> dict[str, str | None]:
    """`fee_pct` placed in Kraken's tier table: the last tier charging at least it is the
    account's, the one after it is next."""
    index = max((i for i, (_, pct) in enumerate(tiers) if pct >= fee_pct), default=0)
    following = tiers[index + 1] if index + 1 < len(tiers) else None
    return {
        "fee": _amount(fee_pct),
        "min_fee": _amount(tiers[-1][1]),
        "max_fee": _amount(tiers[0][1]),
        "next_fee": None if following is None else _amount(following[1]),
        "tier_volume": _amount(Decimal(tiers[index][0])),
        "next_volume": None if following is None else _amount(Decimal(following[0])),
    }


def _amount(value: Decimal) -> str:
    return f"{value:.4f}"
