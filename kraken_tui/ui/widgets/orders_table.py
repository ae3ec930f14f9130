"""Our open orders; the cursor row is the order `c` cancels.

A client order id is 32 hex digits, too wide for a table that must fit 120 columns next to the
fills, so the table shows its first 8 (enough to tell orders apart at a glance) and
`describe` gives the full id and who sent the order for the panel's title."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from rich.text import Text

from kraken_tui.domain import Instrument, Order, OrderStatus, OrderType, Side
from kraken_tui.ui.formatting import NEGATIVE, POSITIVE, fmt_price, fmt_qty
from kraken_tui.ui.widgets.keyed_table import KeyedTable, Row

TYPE_LABELS = {
    OrderType.LIMIT: "lmt",
    OrderType.MARKET: "mkt",
    OrderType.STOP_LOSS: "stop",
    OrderType.TAKE_PROFIT: "tp",
}
STATUS_LABELS = {
    OrderStatus.PENDING_NEW: "sending",
    OrderStatus.NEW: "open",
    OrderStatus.PARTIALLY_FILLED: "partial",
    OrderStatus.PENDING_CANCEL: "cancel…",
}


def side_text(side: Side, suffix: str = "") -> Text:
    text = Text(side.value.upper(), style=POSITIVE if side is Side.BUY else NEGATIVE)
    if suffix:
        text.append(f" {suffix}")
    return text


SHORT_ID_WIDTH = 11


def short_id(cl_ord_id: str) -> str:
    if len(cl_ord_id) <= SHORT_ID_WIDTH:
        return cl_ord_id
    return cl_ord_id[:8] + "…"


def volume_cell(order: Order, quote: str) -> str:
    """An order sized in quote (`viqc`) has no base volume: its size is the amount it spends,
    shown with its currency so it is not read as base."""
    if order.quote_volume is None:
        return fmt_qty(order.volume)
    return f"{fmt_qty(order.quote_volume, _amount_decimals(order.quote_volume))} {quote}"


def _amount_decimals(amount: Decimal) -> int:
    """Cents at least, and every decimal the amount was given with (0.00125 BTC stays so)."""
    exponent = amount.normalize().as_tuple().exponent
    return max(2, -exponent) if isinstance(exponent, int) else 2


def origin(order: Order) -> str:
    if order.strategy is not None:
        return order.strategy
    return "external" if order.external else "manual"


class OrdersTable(KeyedTable):
    COLUMNS = (
        ("id", "Order"),
        ("symbol", "Symbol"),
        ("side", "Side"),
        ("price", "Price"),
        ("volume", "Volume"),
        ("filled", "Filled"),
        ("status", "Status"),
    )

    COMPACT_COLUMNS = frozenset({"symbol", "side", "price", "volume", "status"})
    """The selected order's id and filled part are in the panel's title (`describe`)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._orders: dict[str, Order] = {}

    def describe(self, cl_ord_id: str | None) -> str:
        """The full id and the sender of an order in the table, or "" if it is not there."""
        order = self._orders.get(cl_ord_id) if cl_ord_id is not None else None
        if order is None:
            return ""
        filled = f" · filled {fmt_qty(order.filled)}" if order.filled else ""
        return f"{order.cl_ord_id} · {origin(order)}{filled}"

    def show(self, orders: Sequence[Order], instruments: Mapping[str, Instrument]) -> None:
        self._orders = {o.cl_ord_id: o for o in orders}
        rows: list[Row] = []
        for o in orders:
            instrument = instruments.get(o.symbol)
            decimals = instrument.price_decimals if instrument else 2
            quote = instrument.quote if instrument else o.symbol.partition("/")[2]
            rows.append(
                (
                    o.cl_ord_id,
                    (
                        short_id(o.cl_ord_id),
                        o.symbol,
                        side_text(o.side, TYPE_LABELS[o.order_type]),
                        Text(fmt_price(o.price or o.trigger_price, decimals), justify="right"),
                        Text(volume_cell(o, quote), justify="right"),
                        Text(fmt_qty(o.filled), justify="right"),
                        STATUS_LABELS.get(o.status, o.status.value),
                    ),
                )
            )
        self.sync(rows)
