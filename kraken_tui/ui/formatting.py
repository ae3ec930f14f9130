"""Text for money and quantities: Decimal in, aligned strings and signed colours out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rich.text import Text

POSITIVE = "#3fb950"
NEGATIVE = "#f85149"
NEUTRAL = "#8b949e"


def fmt_price(price: Decimal | None, decimals: int) -> str:
    if price is None:
        return "-"
    return f"{price:,.{decimals}f}"


def fmt_qty(qty: Decimal, decimals: int = 4) -> str:
    return f"{qty:,.{decimals}f}"


def signed_text(amount: Decimal, decimals: int = 2) -> Text:
    """A PnL-like amount with an explicit sign, green when positive and red when negative, so
    a glance at a column tells winners from losers."""
    if amount > 0:
        return Text(f"+{amount:,.{decimals}f}", style=POSITIVE)
    if amount < 0:
        return Text(f"{amount:,.{decimals}f}", style=NEGATIVE)
    return Text(f"{amount:,.{decimals}f}", style=NEUTRAL)


def fmt_time(ts: datetime | None) -> str:
    return "-" if ts is None else ts.strftime("%H:%M:%S")
