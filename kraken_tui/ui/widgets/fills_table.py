"""Our most recent fills, newest first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text

from kraken_tui.domain import Execution, Instrument
from kraken_tui.ui.formatting import fmt_price, fmt_qty, fmt_time
from kraken_tui.ui.widgets.keyed_table import KeyedTable, Row
from kraken_tui.ui.widgets.orders_table import side_text


class FillsTable(KeyedTable):
    COLUMNS = (
        ("time", "Time"),
        ("symbol", "Symbol"),
        ("side", "Side"),
        ("price", "Price"),
        ("qty", "Qty"),
    )
    CURSOR_FOLLOWS_KEY = False

    def show(self, fills: Sequence[Execution], instruments: Mapping[str, Instrument]) -> None:
        rows: list[Row] = []
        for f in fills:
            instrument = instruments.get(f.symbol)
            decimals = instrument.price_decimals if instrument else 2
            rows.append(
                (
                    f.exec_id,
                    (
                        fmt_time(f.ts),
                        f.symbol,
                        side_text(f.side),
                        Text(fmt_price(f.price, decimals), justify="right"),
                        Text(fmt_qty(f.qty), justify="right"),
                    ),
                )
            )
        self.sync(rows)
