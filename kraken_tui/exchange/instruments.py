"""Kraken pair metadata as domain `Instrument`s, legacy asset names, and order pre-checks.

Kraken's REST API still names many assets by their pre-2018 ISO-like codes (`XXBT`, `ZUSD`,
`XXDG`); WebSocket v2 uses display names (`BTC`, `USD`, `DOGE`). Everything past this module
sees display names only, so the same pair is `BTC/USD` whichever API reported it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from loguru import logger

from kraken_tui.domain import Instrument, Side
from kraken_tui.domain.money import decimals_to_step, to_decimal

# Kraken's legacy REST asset codes that differ from the display name.
_LEGACY_TO_DISPLAY: dict[str, str] = {
    "XXBT": "BTC",
    "XBT": "BTC",
    "XXDG": "DOGE",
    "XDG": "DOGE",
    "XETH": "ETH",
    "XETC": "ETC",
    "XLTC": "LTC",
    "XXRP": "XRP",
    "XXLM": "XLM",
    "XXMR": "XMR",
    "XZEC": "ZEC",
    "XREP": "REP",
    "XMLN": "MLN",
    "ZUSD": "USD",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
    "ZJPY": "JPY",
    "ZCAD": "CAD",
    "ZAUD": "AUD",
    "ZCHF": "CHF",
}
# The code REST endpoints expect back for each display name (the 4-letter legacy form).
_DISPLAY_TO_LEGACY: dict[str, str] = {
    display: legacy for legacy, display in _LEGACY_TO_DISPLAY.items() if len(legacy) == 4
}


def display_asset(kraken_asset: str) -> str:
    """`XXBT` → `BTC`, `ZUSD` → `USD`, `XBT.F` → `BTC.F` (balance suffixes are kept);
    names that are already display names pass through."""
    name, dot, suffix = kraken_asset.partition(".")
    display = _LEGACY_TO_DISPLAY.get(name.upper(), name.upper())
    return f"{display}{dot}{suffix}"


def kraken_asset(display: str) -> str:
    """The REST code for a display name: `BTC` → `XXBT`, `USD` → `ZUSD`, `SOL` → `SOL`."""
    name, dot, suffix = display.partition(".")
    name = display_asset(name)
    return f"{_DISPLAY_TO_LEGACY.get(name, name)}{dot}{suffix}"


def display_symbol(symbol: str) -> str:
    """`XBT/USD` → `BTC/USD`; `XDG/EUR` → `DOGE/EUR`."""
    base, slash, quote = symbol.partition("/")
    if not slash:
        raise ValueError(f"pair {symbol!r} must look like BASE/QUOTE")
    return f"{display_asset(base)}/{display_asset(quote)}"


def instrument_from_asset_pair(rest_name: str, info: Mapping[str, Any]) -> Instrument:
    """One entry of REST `AssetPairs`' result (keyed by `rest_name`, e.g. `XXBTZUSD`)."""
    base = display_asset(str(info["base"]))
    quote = display_asset(str(info["quote"]))
    wsname = info.get("wsname")
    symbol = display_symbol(str(wsname)) if wsname else f"{base}/{quote}"
    price_decimals = int(info["pair_decimals"])
    tick = info.get("tick_size")
    return Instrument(
        symbol=symbol,
        base=base,
        quote=quote,
        price_decimals=price_decimals,
        lot_decimals=int(info["lot_decimals"]),
        tick_size=(
            to_decimal(tick, "tick_size") if tick is not None else decimals_to_step(price_decimals)
        ),
        ordermin=to_decimal(info.get("ordermin", 0), "ordermin"),
        costmin=to_decimal(info.get("costmin", 0), "costmin"),
        rest_name=rest_name,
        altname=str(info.get("altname", "")),
        cost_decimals=int(info.get("cost_decimals", 8)),
        taker_fee=_first_tier_fee(info.get("fees")),
    )


def _first_tier_fee(tiers: object) -> Decimal:
    """The first (highest) taker fee of AssetPairs' `fees` ([[volume, percent], ...]) as a
    fraction; zero when the listing has none."""
    if not isinstance(tiers, list) or not tiers:
        return Decimal(0)
    first = tiers[0]
    if not isinstance(first, list | tuple) or len(first) != 2:
        raise ValueError(f"fees tier {first!r} is not [volume, percent]")
    return to_decimal(first[1], "fees") / 100


def instruments_from_asset_pairs(result: Mapping[str, Any]) -> list[Instrument]:
    """All usable pairs of an `AssetPairs` result; a malformed entry is logged and skipped so
    one odd listing cannot take the whole instrument list down. Dark-pool pairs (`.d`) are
    not tradable through the book and are left out."""
    instruments: list[Instrument] = []
    for rest_name, info in result.items():
        if rest_name.endswith(".d"):
            continue
        try:
            instruments.append(instrument_from_asset_pair(rest_name, info))
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning("skipping AssetPairs entry {!r}: {}", rest_name, exc)
    return instruments


def instrument_from_ws_pair(pair: Mapping[str, Any]) -> Instrument:
    """One element of the WebSocket v2 `instrument` channel's `pairs` list."""
    return Instrument(
        symbol=display_symbol(str(pair["symbol"])),
        base=display_asset(str(pair["base"])),
        quote=display_asset(str(pair["quote"])),
        price_decimals=int(pair["price_precision"]),
        lot_decimals=int(pair["qty_precision"]),
        tick_size=to_decimal(pair["price_increment"], "price_increment"),
        ordermin=to_decimal(pair.get("qty_min", 0), "qty_min"),
        costmin=to_decimal(pair.get("cost_min", 0), "cost_min"),
        cost_decimals=int(pair.get("cost_precision", 8)),
    )


def instruments_from_ws_pairs(pairs: Iterable[Any]) -> list[Instrument]:
    instruments: list[Instrument] = []
    for pair in pairs:
        try:
            instruments.append(instrument_from_ws_pair(pair))
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning("skipping instrument channel pair {!r}: {}", pair, exc)
    return instruments


class UnknownInstrumentError(KeyError):
    """Raised for a pair the exchange does not list; carries Kraken's own error string."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"EQuery:Unknown asset pair: {self.name}"


class InstrumentRegistry:
    """Instruments by WebSocket symbol, REST name or altname, so a pair named by any API
    (`BTC/USD`, `XBT/USD`, `XXBTZUSD`, `XBTUSD`) resolves to the same `Instrument`."""

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self._by_symbol: dict[str, Instrument] = {}
        self._aliases: dict[str, str] = {}
        for instrument in instruments:
            self.add(instrument)

    def add(self, instrument: Instrument) -> None:
        """Register or replace; a later source (e.g. the `instrument` channel) may refine
        precision while REST names already known are kept."""
        symbol = display_symbol(instrument.symbol)
        known = self._by_symbol.get(symbol)
        if known is not None and not instrument.rest_name:
            instrument = _with_rest_names(instrument, known)
        self._by_symbol[symbol] = instrument
        for alias in (instrument.rest_name, instrument.altname):
            if alias:
                self._aliases[alias.upper()] = symbol

    def get(self, name: str) -> Instrument | None:
        key = name.strip().upper()
        symbol = self._aliases.get(key)
        if symbol is None and "/" in key:
            symbol = display_symbol(key)
        return self._by_symbol.get(symbol) if symbol is not None else None

    def require(self, name: str) -> Instrument:
        instrument = self.get(name)
        if instrument is None:
            raise UnknownInstrumentError(name)
        return instrument

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_symbol.values())

    def __len__(self) -> int:
        return len(self._by_symbol)

    @property
    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)


def _with_rest_names(instrument: Instrument, known: Instrument) -> Instrument:
    """A WS-announced instrument with the REST names (and REST-only fee) of the known one."""
    return replace(
        instrument,
        rest_name=known.rest_name,
        altname=known.altname,
        taker_fee=instrument.taker_fee or known.taker_fee,
    )


@dataclass(frozen=True, slots=True)
class PreparedOrder:
    """Price and volume as they will be sent (rounded, and as exact wire strings), or the
    error Kraken would answer with, so a doomed order never costs a rate-limit point."""

    price: Decimal | None
    volume: Decimal
    price_text: str | None
    volume_text: str
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def round_price(instrument: Instrument, side: Side, price: Decimal) -> Decimal:
    """Onto the tick grid in the passive direction (buys down, sells up), so rounding never
    makes an order pay more or sell for less than the caller asked."""
    rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
    ticks = (price / instrument.tick_size).to_integral_value(rounding=rounding)
    return (ticks * instrument.tick_size).quantize(decimals_to_step(instrument.price_decimals))


def round_volume(instrument: Instrument, volume: Decimal) -> Decimal:
    """Down to the lot size: never more than asked."""
    return instrument.round_volume(volume)


def prepare_order(
    instrument: Instrument,
    side: Side,
    volume: Decimal,
    price: Decimal | None = None,
    *,
    round_values: bool = True,
) -> PreparedOrder:
    """Round (unless `round_values` is False, when off-grid values are refused as Kraken
    would refuse them) and check price and volume against the pair's rules."""
    if round_values:
        volume = round_volume(instrument, volume)
        if price is not None and price > 0:
            price = round_price(instrument, side, price)
    error = instrument.check_order(price, volume)
    if (
        error is None
        and price is not None
        and price != price.quantize(decimals_to_step(instrument.price_decimals))
    ):
        error = (
            f"EOrder:Invalid price:{instrument.symbol} price can only be specified up to "
            f"{instrument.price_decimals} decimals."
        )
    return PreparedOrder(
        price=price,
        volume=volume,
        price_text=None if price is None else _fixed(price, instrument.price_decimals),
        volume_text=_fixed(volume, instrument.lot_decimals),
        error=error,
    )


def _fixed(value: Decimal, decimals: int) -> str:
    return f"{value:.{decimals}f}"
