"""Wire formatting shared by the REST and WebSocket servers.

Kraken's WebSocket v2 sends prices and quantities as bare JSON numbers, REST sends them as
strings. Decimals are serialized as JSON numbers written with exactly the digits we choose
(never through float), so a client that re-renders them with the pair's precision gets back
the very strings the checksum was built from.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

_DECIMAL_MARK = "\x1fD"
_DECIMAL_TOKEN = re.compile(rb'"\\u001fD(-?[0-9.]+)"')


def _encode_default(value: object) -> str:
    if isinstance(value, Decimal):
        return _DECIMAL_MARK + format(value, "f")
    raise TypeError(f"cannot serialize {type(value).__name__}")


def dumps(message: Any) -> str:
    """JSON text with every Decimal written as a number with its own digits (`1.50` stays
    `1.50`). Client-supplied strings are validated upstream to exclude control characters, so
    the private marker cannot be forged."""
    raw = orjson.dumps(message, default=_encode_default)
    return _DECIMAL_TOKEN.sub(rb"\1", raw).decode()


def fixed(value: Decimal, decimals: int) -> str:
    """Kraken's REST rendering: a string with exactly `decimals` digits after the point."""
    return f"{value:.{decimals}f}"


def rfc3339(ts: float) -> str:
    """Kraken's v2 timestamp format, microseconds and a `Z`: 2023-10-06T17:35:55.440295Z."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _checksum_token(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def book_checksum(asks: Iterable[tuple[str, str]], bids: Iterable[tuple[str, str]]) -> int:
    """Kraken's v2 book checksum: CRC32 over the top 10 asks (low to high) then the top 10
    bids (high to low), each level as price then qty with the point and leading zeros
    removed. Inputs are the already formatted strings, best level first."""
    parts: list[str] = []
    for count, (price, qty) in enumerate(asks):
        if count == 10:
            break
        parts.append(_checksum_token(price) + _checksum_token(qty))
    for count, (price, qty) in enumerate(bids):
        if count == 10:
            break
        parts.append(_checksum_token(price) + _checksum_token(qty))
    return zlib.crc32("".join(parts).encode())


def rfc3339_seconds(ts: float) -> str:
    """RFC 3339 to the second, as Kraken's dead-man switch answers: 2023-03-24T17:41:56Z."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
