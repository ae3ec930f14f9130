"""Kraken's asset and pair metadata for the sandbox, as Kraken itself publishes it.

Clients size and round orders from AssetPairs (the SDK's book client even formats checksums
with `pair_decimals`/`lot_decimals`), so these numbers are copied from Kraken's live API and
must not be "simplified": a sandbox that accepts what Kraken refuses hides real bugs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.domain.instrument import Instrument
from kraken_tui.domain.money import decimals_to_step
from kraken_tui.sandbox.errors import UNKNOWN_ASSET, UNKNOWN_ASSET_PAIR, VenueError

# Kraken's base fee schedule (30-day USD volume threshold, percent), shared by all spot pairs.
TAKER_FEE_TIERS: tuple[tuple[int, Decimal], ...] = tuple(
    (volume, Decimal(pct))
    for volume, pct in (
        (0, "0.40"),
        (10_000, "0.35"),
        (50_000, "0.24"),
        (100_000, "0.22"),
        (250_000, "0.20"),
        (500_000, "0.18"),
        (1_000_000, "0.16"),
        (2_500_000, "0.14"),
        (5_000_000, "0.12"),
        (10_000_000, "0.10"),
    )
)
MAKER_FEE_TIERS: tuple[tuple[int, Decimal], ...] = tuple(
    (volume, Decimal(pct))
    for volume, pct in (
        (0, "0.25"),
        (10_000, "0.20"),
        (50_000, "0.14"),
        (100_000, "0.12"),
        (250_000, "0.10"),
        (500_000, "0.08"),
        (1_000_000, "0.06"),
        (2_500_000, "0.04"),
        (5_000_000, "0.02"),
        (10_000_000, "0.00"),
    )
)


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """One asset. `code` is Kraken's REST key (legacy `XXBT`, `ZUSD`; newer assets are plain
    `SOL`), `altname` the REST alias (`XBT`), `display` the WebSocket v2 name (`BTC`)."""

    code: str
    altname: str
    display: str
    decimals: int
    display_decimals: int

    @property
    def step(self) -> Decimal:
        return decimals_to_step(self.decimals)

    def rest_entry(self) -> dict[str, object]:
        """One value of REST `Assets`' result, keyed by `code` there."""
        return {
            "aclass": "currency",
            "altname": self.altname,
            "decimals": self.decimals,
            "display_decimals": self.display_decimals,
            "collateral_value": 1.0,
            "status": "enabled",
        }

    def ws_entry(self) -> dict[str, object]:
        """One element of the WS v2 `instrument` snapshot's `assets` list."""
        return {
            "id": self.display,
            "status": "enabled",
            "precision": self.decimals,
            "precision_display": self.display_decimals,
            "borrowable": False,
            "collateral_value": 1.0,
            "margin_rate": 0.0,
        }


@dataclass(frozen=True, slots=True)
class PairInfo:
    """One spot pair. `symbol` is the WS v2 name (`BTC/USD`, `ETH/BTC`); `wsname` is what REST
    AssetPairs reports as `wsname` (Kraken still uses XBT there: `XBT/USD`, `ETH/XBT`)."""

    rest_name: str
    altname: str
    wsname: str
    symbol: str
    base: AssetInfo
    quote: AssetInfo
    pair_decimals: int
    lot_decimals: int
    cost_decimals: int
    tick_size: Decimal
    ordermin: Decimal
    costmin: Decimal

    @property
    def lot_step(self) -> Decimal:
        return decimals_to_step(self.lot_decimals)

    @property
    def price_step(self) -> Decimal:
        return decimals_to_step(self.pair_decimals)

    @property
    def cost_step(self) -> Decimal:
        """The grid of an amount in the quote currency (a `viqc` order's volume)."""
        return decimals_to_step(self.cost_decimals)

    def to_instrument(self) -> Instrument:
        return Instrument(
            symbol=self.symbol,
            base=self.base.display,
            quote=self.quote.display,
            price_decimals=self.pair_decimals,
            lot_decimals=self.lot_decimals,
            tick_size=self.tick_size,
            ordermin=self.ordermin,
            costmin=self.costmin,
            rest_name=self.rest_name,
            altname=self.altname,
            cost_decimals=self.cost_decimals,
            taker_fee=TAKER_FEE_TIERS[0][1] / 100,
        )

    def rest_entry(self) -> dict[str, object]:
        """One value of REST `AssetPairs`' result (numbers as Kraken sends them)."""
        return {
            "altname": self.altname,
            "wsname": self.wsname,
            "aclass_base": "currency",
            "base": self.base.code,
            "aclass_quote": "currency",
            "quote": self.quote.code,
            "lot": "unit",
            "cost_decimals": self.cost_decimals,
            "pair_decimals": self.pair_decimals,
            "lot_decimals": self.lot_decimals,
            "lot_multiplier": 1,
            "leverage_buy": [],
            "leverage_sell": [],
            "fees": [[volume, float(pct)] for volume, pct in TAKER_FEE_TIERS],
            "fees_maker": [[volume, float(pct)] for volume, pct in MAKER_FEE_TIERS],
            "fee_volume_currency": "ZUSD",
            "margin_call": 80,
            "margin_stop": 40,
            "ordermin": str(self.ordermin),
            "costmin": str(self.costmin),
            "tick_size": str(self.tick_size),
            "status": "online",
        }

    def ws_entry(self) -> dict[str, object]:
        """One element of the WS v2 `instrument` snapshot's `pairs` list."""
        return {
            "symbol": self.symbol,
            "base": self.base.display,
            "quote": self.quote.display,
            "status": "online",
            "qty_precision": self.lot_decimals,
            "qty_increment": self.lot_step,
            "qty_min": self.ordermin,
            "price_precision": self.pair_decimals,
            "price_increment": self.tick_size,
            "cost_precision": self.cost_decimals,
            "cost_min": self.costmin,
            "marginable": False,
            "has_index": True,
            "tick_size": self.tick_size,
        }


XXBT = AssetInfo(code="XXBT", altname="XBT", display="BTC", decimals=10, display_decimals=5)
XETH = AssetInfo(code="XETH", altname="ETH", display="ETH", decimals=10, display_decimals=5)
# Kraken's Assets answer gives ZUSD the altname USD (api-specs openapi_v3.yaml, Assets example)
ZUSD = AssetInfo(code="ZUSD", altname="USD", display="USD", decimals=4, display_decimals=2)
SOL = AssetInfo(code="SOL", altname="SOL", display="SOL", decimals=10, display_decimals=5)

DEFAULT_ASSETS: tuple[AssetInfo, ...] = (XXBT, XETH, ZUSD, SOL)

DEFAULT_PAIRS: tuple[PairInfo, ...] = (
    PairInfo(
        rest_name="XXBTZUSD",
        altname="XBTUSD",
        wsname="XBT/USD",
        symbol="BTC/USD",
        base=XXBT,
        quote=ZUSD,
        pair_decimals=1,
        lot_decimals=8,
        cost_decimals=5,
        tick_size=Decimal("0.1"),
        ordermin=Decimal("0.00005"),
        costmin=Decimal("0.5"),
    ),
    PairInfo(
        rest_name="XETHZUSD",
        altname="ETHUSD",
        wsname="ETH/USD",
        symbol="ETH/USD",
        base=XETH,
        quote=ZUSD,
        pair_decimals=2,
        lot_decimals=8,
        cost_decimals=5,
        tick_size=Decimal("0.01"),
        ordermin=Decimal("0.002"),
        costmin=Decimal("0.5"),
    ),
    PairInfo(
        rest_name="SOLUSD",
        altname="SOLUSD",
        wsname="SOL/USD",
        symbol="SOL/USD",
        base=SOL,
        quote=ZUSD,
        pair_decimals=2,
        lot_decimals=8,
        cost_decimals=5,
        tick_size=Decimal("0.01"),
        ordermin=Decimal("0.02"),
        costmin=Decimal("0.5"),
    ),
    PairInfo(
        rest_name="XETHXXBT",
        altname="ETHXBT",
        wsname="ETH/XBT",
        symbol="ETH/BTC",
        base=XETH,
        quote=XXBT,
        pair_decimals=5,
        lot_decimals=8,
        cost_decimals=10,
        tick_size=Decimal("0.00001"),
        ordermin=Decimal("0.002"),
        costmin=Decimal("0.00002"),
    ),
)


class PairRegistry:
    """Resolves every spelling a client may use for a pair or an asset.

    Kraken accepts a pair as its REST key, its altname or (v2) its `BASE/QUOTE` symbol, and
    clients mix XBT and BTC freely, so all of them map to the same `PairInfo`."""

    def __init__(
        self, pairs: Iterable[PairInfo] = DEFAULT_PAIRS, assets: Iterable[AssetInfo] = ()
    ) -> None:
        self._pairs: tuple[PairInfo, ...] = tuple(pairs)
        self._by_name: dict[str, PairInfo] = {}
        collected: dict[str, AssetInfo] = {asset.code: asset for asset in assets}
        for pair in self._pairs:
            for name in _pair_spellings(pair):
                self._by_name[name.upper()] = pair
            collected.setdefault(pair.base.code, pair.base)
            collected.setdefault(pair.quote.code, pair.quote)
        self._assets: dict[str, AssetInfo] = collected
        self._asset_by_name: dict[str, AssetInfo] = {}
        for asset in collected.values():
            for name in (asset.code, asset.altname, asset.display):
                self._asset_by_name[name.upper()] = asset

    def __iter__(self) -> Iterator[PairInfo]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(pair.symbol for pair in self._pairs)

    @property
    def assets(self) -> Mapping[str, AssetInfo]:
        """Assets keyed by Kraken REST code (`XXBT`, `ZUSD`, `SOL`)."""
        return self._assets

    def resolve(self, name: str) -> PairInfo:
        """The pair for any accepted spelling, or `EQuery:Unknown asset pair`."""
        pair = self._by_name.get(name.upper())
        if pair is None:
            raise VenueError(UNKNOWN_ASSET_PAIR)
        return pair

    def find(self, name: str) -> PairInfo | None:
        return self._by_name.get(name.upper())

    def asset(self, name: str) -> AssetInfo:
        """The asset for its REST code, altname or display name, or `EQuery:Unknown asset`."""
        asset = self._asset_by_name.get(name.upper())
        if asset is None:
            raise VenueError(UNKNOWN_ASSET)
        return asset


def _pair_spellings(pair: PairInfo) -> set[str]:
    names = {pair.rest_name, pair.altname, pair.wsname, pair.symbol}
    for slash_name in (pair.wsname, pair.symbol):
        base, quote = slash_name.split("/")
        for b in _aliases(base):
            for q in _aliases(quote):
                names.add(f"{b}/{q}")
                names.add(f"{b}{q}")
    return names


def _aliases(asset_name: str) -> tuple[str, ...]:
    if asset_name in ("BTC", "XBT"):
        return ("BTC", "XBT")
    return (asset_name,)
