"""Decimal helpers: money never passes through float between the wire and the database."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation

ZERO = Decimal(0)


def to_decimal(value: object, field: str = "value") -> Decimal:
    """Convert wire values (str, int, Decimal; floats via their repr) without binary noise."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValueError(f"{field}: expected a number, got a boolean")
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"{field}: {value!r} is not a number") from exc
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        raise ValueError(f"{field}: expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    return result


def quantize_down(value: Decimal, step: Decimal) -> Decimal:
    """Round towards zero onto a multiple of `step` (volumes: never more than asked)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def quantize_nearest(value: Decimal, step: Decimal) -> Decimal:
    """Round to the nearest multiple of `step` (prices onto the tick grid)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_HALF_EVEN) * step


def decimals_to_step(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)
