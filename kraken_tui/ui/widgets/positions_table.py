"""The account's position per symbol with mark and PnL, coloured by sign.

The engine reports each symbol twice when a strategy trades it: the account's net position and
the strategy's own share. Only account rows are shown here (what the exchange balance says);
each strategy's share is in the strategies table, so no quantity is listed twice."""

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

    COMPACT_COLUMNS = frozenset({"symbol", "qty", "upnl", "rpnl"})

    def show(self, positions: Sequence[Position], instruments: Mapping[str, Instrument]) -> None:
        rows: list[Row] = []
        for p in positions:
            if p.strategy is not None:
                continue
            instrument = instruments.get(p.symbol)
            decimals = instrument.price_decimals if instrument else 2
            average = None if p.is_flat else p.avg_price
            rows.append(
                (
                    p.symbol,
                    (
                        p.symbol,
                        signed_text(p.qty, 4),
                        Text(fmt_price(average, decimals), justify="right"),
                        Text(fmt_price(p.mark, decimals), justify="right"),
                        signed_text(p.unrealized_pnl),
                        signed_text(p.realized_pnl),
                    ),
                )
            )
        self.sync(rows)
