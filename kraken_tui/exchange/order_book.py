"""Level-2 order books kept from Kraken's WebSocket v2 `book` channel, verified by CRC32.

Prices and quantities are held as integers scaled by the instrument's precision: a level's
checksum fragment (the decimal string without its point and leading zeros) is then simply
`str(ticks) + str(lots)`, computed once when the level changes instead of formatting floats
for every checksum. Each side is a dict plus a sorted key list (bids stored negated so both
lists are best-first); a side's top-10 checksum input is rebuilt only when a change reaches
its top 10, and the CRC of the asks part is carried into the bids part (`crc32(b, crc32(a))`
equals `crc32(a + b)`), so an update touching one side re-hashes only that side.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zlib import crc32

from loguru import logger

from kraken_tui.domain import BookLevel, BookSnapshot, Instrument, Side

CHECKSUM_LEVELS = 10
SUPPORTED_DEPTHS = (10, 25, 100, 500, 1000)
AWAITING_SNAPSHOT = "awaiting snapshot"
_MAX_CRC32 = 0xFFFFFFFF


def kraken_checksum(asks: Iterable[tuple[str, str]], bids: Iterable[tuple[str, str]]) -> int:
    """Kraken's book checksum over `(price, qty)` strings formatted as in its docs, best first
    on each side; only the top 10 levels of each side count."""
    parts: list[str] = []
    for side in (asks, bids):
        for index, (price, qty) in enumerate(side):
            if index == CHECKSUM_LEVELS:
                break
            parts.append(price.replace(".", "").lstrip("0"))
            parts.append(qty.replace(".", "").lstrip("0"))
    return crc32("".join(parts).encode())


class BookOutcome(StrEnum):
    """What applying one book message did; anything but APPLIED leaves the book stale and the
    adapter must resubscribe the symbol (a fresh snapshot clears it)."""

    APPLIED = "applied"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    MALFORMED = "malformed"
    IGNORED_STALE = "ignored_stale"

    @property
    def needs_resync(self) -> bool:
        return self is not _APPLIED


# An enum member read through its class goes through `EnumType` each time (about ten times
# a global's cost on CPython 3.11); the per-message paths use these names.
_APPLIED = BookOutcome.APPLIED
_CHECKSUM_MISMATCH = BookOutcome.CHECKSUM_MISMATCH
_MALFORMED = BookOutcome.MALFORMED
_IGNORED_STALE = BookOutcome.IGNORED_STALE


def scaled_units(value: object, decimals: int, field: str) -> int:
    """`value` as an integer count of 10**-decimals. Exact str/Decimal values must not carry
    more decimals than the instrument allows; a float cannot hold a decimal exactly, so it is
    rounded to the nearest unit, and the checksum is what catches a value that was off-grid."""
    unit: int = 10**decimals
    if type(value) is float:
        return round(value * unit)
    if type(value) is int:
        return value * unit
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"{field} {value!r} is not a number") from exc
    elif isinstance(value, Decimal):
        number = value
    else:
        raise TypeError(f"{field} must be a number, got {type(value).__name__}")
    if not number.is_finite():
        raise ValueError(f"{field} {value!r} is not finite")
    scaled = number.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{field} {value!r} has more than {decimals} decimals")
    return int(scaled)


class OrderBook:
    """One symbol's book at one subscribed depth, fed the `data[i]` entries of `book`
    messages exactly as `json.loads` (optionally with `parse_float=Decimal`) produced them."""

    __slots__ = (
        "_ask_crc",
        "_ask_frags",
        "_ask_keys",
        "_ask_levels",
        "_ask_qtys",
        "_bid_bytes",
        "_bid_frags",
        "_bid_keys",
        "_bid_levels",
        "_bid_qtys",
        "_crc",
        "_lot_decimals",
        "_price_decimals",
        "_price_scale",
        "_qty_scale",
        "_snapshot",
        "_stale_reason",
        "_timestamp",
        "_version",
        "depth",
        "instrument",
        "symbol",
    )

    def __init__(
        self,
        instrument: Instrument,
        depth: int = 10,
        *,
        price_precision: int | None = None,
        qty_precision: int | None = None,
    ) -> None:
        """`price_precision`/`qty_precision` default to the instrument's price and lot
        decimals; pass the `instrument` channel's values if they differ."""
        if depth < CHECKSUM_LEVELS:
            raise ValueError(f"book depth must be at least {CHECKSUM_LEVELS}, got {depth}")
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.depth = depth
        self._price_decimals = (
            instrument.price_decimals if price_precision is None else price_precision
        )
        self._lot_decimals = instrument.lot_decimals if qty_precision is None else qty_precision
        self._price_scale = 10**self._price_decimals
        self._qty_scale = 10**self._lot_decimals
        self._ask_keys: list[int] = []
        self._bid_keys: list[int] = []
        self._ask_qtys: dict[int, int] = {}
        self._bid_qtys: dict[int, int] = {}
        self._ask_frags: dict[int, str] = {}
        self._bid_frags: dict[int, str] = {}
        self._ask_levels: dict[int, BookLevel] = {}
        self._bid_levels: dict[int, BookLevel] = {}
        self._ask_crc = 0
        self._bid_bytes = b""
        self._crc = 0
        self._timestamp: str | None = None
        self._version = 0
        self._snapshot: BookSnapshot | None = None
        self._stale_reason: str | None = AWAITING_SNAPSHOT

    # -- feeding -------------------------------------------------------------------------

    def apply(self, entry: Mapping[str, Any], *, snapshot: bool) -> BookOutcome:
        """Apply one `data` entry of a `snapshot` or `update` message and verify its checksum.
        A malformed entry changes nothing but marks the book stale, since skipping an update
        means the book no longer matches the exchange's."""
        if self._stale_reason is not None and not snapshot:
            return _IGNORED_STALE
        try:
            if entry["symbol"] != self.symbol:
                raise ValueError(f"entry for {entry['symbol']!r} sent to the {self.symbol} book")
            raw_asks = entry["asks"]
            raw_bids = entry["bids"]
            if type(raw_asks) is not list or type(raw_bids) is not list:
                raise TypeError("asks and bids must be lists")
            asks = self._parse_levels(raw_asks) if raw_asks else None
            bids = self._parse_levels(raw_bids) if raw_bids else None
            expected = entry["checksum"]
            if type(expected) is not int or not 0 <= expected <= _MAX_CRC32:
                raise ValueError(f"checksum {expected!r} is not an unsigned 32-bit integer")
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            reason = f"malformed book message: {exc}"
            logger.warning("{}: {}", self.symbol, reason)
            self.mark_stale(reason)
            return _MALFORMED
        if snapshot:
            self._clear()
        ask_keys = self._ask_keys
        bid_keys = self._bid_keys
        asks_changed = snapshot
        bids_changed = snapshot
        if asks is not None:
            asks_changed = (
                self._apply_side(
                    asks, 1, ask_keys, self._ask_qtys, self._ask_frags, self._ask_levels
                )
                or snapshot
            )
        if bids is not None:
            bids_changed = (
                self._apply_side(
                    bids, -1, bid_keys, self._bid_qtys, self._bid_frags, self._bid_levels
                )
                or snapshot
            )
        if asks_changed:
            frags = self._ask_frags
            self._ask_crc = crc32("".join([frags[k] for k in ask_keys[:CHECKSUM_LEVELS]]).encode())
        if bids_changed:
            frags = self._bid_frags
            self._bid_bytes = "".join([frags[k] for k in bid_keys[:CHECKSUM_LEVELS]]).encode()
        if asks_changed or bids_changed:
            crc = self._crc = crc32(self._bid_bytes, self._ask_crc)
        else:
            crc = self._crc
        self._timestamp = entry.get("timestamp")
        self._version += 1
        self._snapshot = None
        if crc != expected:
            reason = f"checksum mismatch: exchange {expected}, local {crc}"
            logger.warning("{}: {}", self.symbol, reason)
            self.mark_stale(reason)
            return _CHECKSUM_MISMATCH
        if snapshot:
            self._stale_reason = None
        return _APPLIED

    def _parse_levels(self, levels: list[Any]) -> list[tuple[int, int]]:
        """Convert a whole side before touching the book, so a bad level rejects the message
        without leaving it half-applied."""
        price_scale = self._price_scale
        qty_scale = self._qty_scale
        parsed: list[tuple[int, int]] = []
        for level in levels:
            price = level["price"]
            qty = level["qty"]
            ticks = (
                round(price * price_scale)
                if type(price) is float
                else scaled_units(price, self._price_decimals, "price")
            )
            lots = (
                round(qty * qty_scale)
                if type(qty) is float
                else scaled_units(qty, self._lot_decimals, "qty")
            )
            if ticks <= 0:
                raise ValueError(f"price {price!r} is not positive")
            if lots < 0:
                raise ValueError(f"qty {qty!r} is negative")
            parsed.append((ticks, lots))
        return parsed

    def _apply_side(
        self,
        levels: list[tuple[int, int]],
        sign: int,
        keys: list[int],
        qtys: dict[int, int],
        frags: dict[int, str],
        cached: dict[int, BookLevel],
    ) -> bool:
        """Apply levels in order (a price may repeat), then truncate to depth; return whether
        the top 10, and so the checksum input, may have changed. A changed level's `BookLevel`
        is dropped from `cached`, to be rebuilt by the next snapshot that reads it."""
        top_changed = False
        for ticks, lots in levels:
            key = ticks * sign
            if not top_changed and (len(keys) < CHECKSUM_LEVELS or key <= keys[9]):
                top_changed = True
            if lots:
                if key not in qtys:
                    insort(keys, key)
                qtys[key] = lots
                frags[key] = f"{ticks}{lots}"
                cached.pop(key, None)
            elif key in qtys:
                del qtys[key]
                del frags[key]
                cached.pop(key, None)
                del keys[bisect_left(keys, key)]
        depth = self.depth
        if len(keys) > depth:
            for key in keys[depth:]:
                del qtys[key]
                del frags[key]
                cached.pop(key, None)
            del keys[depth:]
        return top_changed

    # -- staleness -----------------------------------------------------------------------

    @property
    def stale(self) -> bool:
        return self._stale_reason is not None

    @property
    def stale_reason(self) -> str | None:
        return self._stale_reason

    def mark_stale(self, reason: str) -> None:
        """Stop trusting the book until the next snapshot; updates are ignored meanwhile."""
        self._stale_reason = reason
        self._snapshot = None

    def reset(self, reason: str = AWAITING_SNAPSHOT) -> None:
        """Drop every level (e.g. on disconnect) and wait for a fresh snapshot."""
        self._clear()
        self._crc = 0
        self._timestamp = None
        self._version += 1
        self.mark_stale(reason)

    def _clear(self) -> None:
        self._ask_keys.clear()
        self._bid_keys.clear()
        self._ask_qtys.clear()
        self._bid_qtys.clear()
        self._ask_frags.clear()
        self._bid_frags.clear()
        self._ask_levels.clear()
        self._bid_levels.clear()

    # -- reading -------------------------------------------------------------------------

    @property
    def checksum(self) -> int:
        """The CRC32 of the current top 10, as last verified against the exchange's."""
        return self._crc

    @property
    def sequence(self) -> int:
        """Increases with every applied message: a cheap 'has it changed' check for the UI."""
        return self._version

    def _price(self, ticks: int) -> Decimal:
        return Decimal(ticks).scaleb(-self._price_decimals)

    def _qty(self, lots: int) -> Decimal:
        return Decimal(lots).scaleb(-self._lot_decimals)

    def _level(self, side: Side, index: int) -> BookLevel | None:
        keys = self._bid_keys if side is Side.BUY else self._ask_keys
        if len(keys) <= index:
            return None
        key = keys[index]
        qtys = self._bid_qtys if side is Side.BUY else self._ask_qtys
        return BookLevel(self._price(abs(key)), self._qty(qtys[key]))

    @property
    def best_bid(self) -> BookLevel | None:
        return self._level(Side.BUY, 0)

    @property
    def best_ask(self) -> BookLevel | None:
        return self._level(Side.SELL, 0)

    @property
    def spread(self) -> Decimal | None:
        if not self._bid_keys or not self._ask_keys:
            return None
        return self._price(self._ask_keys[0] + self._bid_keys[0])

    @property
    def mid(self) -> Decimal | None:
        if not self._bid_keys or not self._ask_keys:
            return None
        return self._price(self._ask_keys[0] - self._bid_keys[0]) / 2

    def levels(self, side: Side) -> list[BookLevel]:
        """Best first; `Side.BUY` are the bids, `Side.SELL` the asks. Each level's `BookLevel`
        is kept until that level changes, so reading a deep book after a few changes builds
        only the changed levels' Decimals, not the whole side's."""
        if side is Side.BUY:
            keys, qtys, cached = self._bid_keys, self._bid_qtys, self._bid_levels
        else:
            keys, qtys, cached = self._ask_keys, self._ask_qtys, self._ask_levels
        levels: list[BookLevel] = []
        append = levels.append
        for key in keys:
            level = cached.get(key)
            if level is None:
                level = cached[key] = BookLevel(self._price(abs(key)), self._qty(qtys[key]))
            append(level)
        return levels

    def cumulative_depth(self, side: Side, levels: int | None = None) -> list[BookLevel]:
        """Each level's price with the total quantity available up to and including it:
        what a market order of that size would sweep to."""
        keys = self._bid_keys if side is Side.BUY else self._ask_keys
        qtys = self._bid_qtys if side is Side.BUY else self._ask_qtys
        total = 0
        cumulative: list[BookLevel] = []
        for key in keys if levels is None else keys[:levels]:
            total += qtys[key]
            cumulative.append(BookLevel(self._price(abs(key)), self._qty(total)))
        return cumulative

    def snapshot(self) -> BookSnapshot:
        """An immutable copy for the UI and strategies, rebuilt only after a change."""
        if self._snapshot is None:
            self._snapshot = BookSnapshot(
                symbol=self.symbol,
                bids=tuple(self.levels(Side.BUY)),
                asks=tuple(self.levels(Side.SELL)),
                ts=_parse_timestamp(self._timestamp),
                stale=self.stale,
                sequence=self._version,
            )
        return self._snapshot


def _parse_timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


class OrderBooks:
    """The books of one `book` subscription, keyed by symbol: routes whole messages."""

    def __init__(self, depth: int = 10) -> None:
        self.depth = depth
        self._books: dict[str, OrderBook] = {}

    def add(self, instrument: Instrument) -> OrderBook:
        book = self._books.get(instrument.symbol)
        if book is None:
            book = self._books[instrument.symbol] = OrderBook(instrument, self.depth)
        return book

    def remove(self, symbol: str) -> None:
        self._books.pop(symbol, None)

    def get(self, symbol: str) -> OrderBook | None:
        return self._books.get(symbol)

    @property
    def symbols(self) -> Sequence[str]:
        return tuple(self._books)

    def apply_message(self, message: Mapping[str, Any]) -> list[tuple[str, BookOutcome]]:
        """Apply a decoded `book` channel message; returns each touched symbol's outcome.
        Entries for symbols without a book are skipped (e.g. after an unsubscribe)."""
        if type(message) is not dict and not isinstance(message, Mapping):
            logger.warning("ignoring malformed book message: {!r}", message)
            return []
        kind = message.get("type")
        data = message.get("data")
        if kind not in ("snapshot", "update") or type(data) is not list:
            logger.warning("ignoring malformed book message: {!r}", message)
            return []
        outcomes: list[tuple[str, BookOutcome]] = []
        snapshot = kind == "snapshot"
        for entry in data:
            symbol = entry.get("symbol") if type(entry) is dict else None
            book = self._books.get(symbol) if type(symbol) is str else None
            if book is None:
                logger.debug("book entry for unsubscribed symbol {!r} skipped", symbol)
                continue
            outcomes.append((book.symbol, book.apply(entry, snapshot=snapshot)))
        return outcomes
