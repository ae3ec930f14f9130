"""Our open orders; the cursor row is the order `c` cancels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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

    def show(self, orders: Sequence[Order], instruments: Mapping[str, Instrument]) -> None:
        rows: list[Row] = []
        for o in orders:
            instrument = instruments.get(o.symbol)
            decimals = instrument.price_decimals if instrument else 2
            rows.append(
                (
                    o.cl_ord_id,
                    (
                        o.cl_ord_id,
                        o.symbol,
                        side_text(o.side, TYPE_LABELS[o.order_type]),
                        Text(fmt_price(o.price, decimals), justify="right"),
                        Text(fmt_qty(o.volume), justify="right"),
                        Text(fmt_qty(o.filled), justify="right"),
                        STATUS_LABELS.get(o.status, o.status.value),
                    ),
                )
            )
        self.sync(rows)
