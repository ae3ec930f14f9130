"""Column encodings shared by the repositories.

Money is stored as TEXT holding the exact decimal digits (`format(value, "f")`), never as REAL:
SQLite's REAL is a binary double, so 0.1 BTC would come back as 0.1000000000000000055…, and fee
and PnL sums would drift. The cost is that SQL cannot compare or add these columns numerically;
arithmetic on money happens in Python with `Decimal`.

Timestamps are ISO-8601 UTC text with a fixed microsecond width
(`2026-01-02T03:04:05.000000+00:00`), so text order is time order and range queries on indexed
`ts` columns work.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def decimal_to_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"refusing to store non-finite decimal {value}")
    return format(value, "f")


def optional_decimal_to_text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_to_text(value)


def text_to_decimal(text: str) -> Decimal:
    return Decimal(text)


def optional_text_to_decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def datetime_to_text(value: datetime) -> str:
    """Naive datetimes are refused: guessing their zone is how fills end up an hour off."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"refusing to store naive datetime {value.isoformat()}; use UTC")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def optional_datetime_to_text(value: datetime | None) -> str | None:
    return None if value is None else datetime_to_text(value)


def text_to_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text)


def optional_text_to_datetime(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return decimal_to_text(value)
    if isinstance(value, datetime):
        return datetime_to_text(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def to_json(value: Mapping[str, Any] | list[Any] | str | int | bool | None) -> str:
    """Decimals become strings (exact); pydantic parameter models turn them back on validation."""
    return json.dumps(value, default=_json_default, separators=(",", ":"), sort_keys=True)


def from_json(text: str) -> Any:
    return json.loads(text)
