"""Positions per symbol with mark and PnL, coloured by sign."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text

from kraken_tui.domain import Instrument, Position
from kraken_tui.ui.formatting import fmt_price, signed_text
from kraken_tui.ui.widgets.keyed_table import KeyedTable, Row


class PositionsTable(KeyedTable):
    COLUMNS = (
        ("symbol", "Symbol"),
        ("qty", "Qty"),
        ("avg", "Avg"),
        ("mark", "Mark"),
        ("upnl", "uPnL"),
        ("rpnl", "rPnL"),
    )

    def show(self, positions: Sequence[Position], instruments: Mapping[str, Instrument]) -> None:
        rows: list[Row] = []
        for p in positions:
            instrument = instruments.get(p.symbol)
            decimals = instrument.price_decimals if instrument else 2
            key = p.symbol if p.strategy is None else f"{p.symbol}:{p.strategy}"
            rows.append(
                (
                    key,
                    (
                        p.symbol,
                        signed_text(p.qty, 4),
                        Text(fmt_price(p.avg_price, decimals), justify="right"),
                        Text(fmt_price(p.mark, decimals), justify="right"),
                        signed_text(p.unrealized_pnl),
                        signed_text(p.realized_pnl),
                    ),
                )
            )
        self.sync(rows)
