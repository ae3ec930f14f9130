"""Strategies: state, last signal, position, PnL and orders sent; the cursor row is the
strategy `p` pauses or resumes."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from kraken_tui.domain import StrategyState
from kraken_tui.engine.api import StrategySnapshot
from kraken_tui.ui.formatting import fmt_qty, signed_text
from kraken_tui.ui.widgets.keyed_table import KeyedTable, Row

STATE_STYLES = {
    StrategyState.RUNNING: "#3fb950",
    StrategyState.PAUSED: "bold #0d1117 on #e3b341",
    StrategyState.ERROR: "bold #ffffff on #da3633",
    StrategyState.STOPPED: "#8b949e",
}


def state_text(strategy: StrategySnapshot) -> Text:
    label = strategy.state.value.upper()
    if strategy.state is StrategyState.PAUSED:
        label = f" {label} "
    return Text(label, style=STATE_STYLES[strategy.state])


class StrategiesTable(KeyedTable):
    COLUMNS = (
        ("name", "Strategy"),
        ("symbol", "Symbol"),
        ("state", "State"),
        ("signal", "Sig"),
        ("position", "Pos"),
        ("pnl", "PnL"),
        ("orders", "Sent"),
    )

    def show(self, strategies: Sequence[StrategySnapshot]) -> None:
        rows: list[Row] = [
            (
                s.name,
                (
                    s.name,
                    s.symbol,
                    state_text(s),
                    s.last_signal or "-",
                    Text(fmt_qty(s.position), justify="right"),
                    signed_text(s.pnl),
                    Text(str(s.orders_sent), justify="right"),
                ),
            )
            for s in strategies
        ]
        self.sync(rows)
