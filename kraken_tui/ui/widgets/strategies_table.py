"""Strategies: state, position, PnL, orders sent and last signal; the cursor row is the
strategy `p` pauses or resumes.

The signal is free text from the strategy (a market maker's quotes, a crossover's reason), so it
comes last and is cut to `SIGNAL_WIDTH`: the numbers a trader scans stay in view at 120 columns."""

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
SIGNAL_WIDTH = 28


def signal_text(signal: str) -> str:
    if not signal:
        return "-"
    return signal if len(signal) <= SIGNAL_WIDTH else signal[: SIGNAL_WIDTH - 1] + "…"


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
        ("position", "Pos"),
        ("pnl", "PnL"),
        ("orders", "Sent"),
        ("signal", "Signal"),
    )

    COMPACT_COLUMNS = frozenset({"name", "state", "position", "pnl"})

    def show(self, strategies: Sequence[StrategySnapshot]) -> None:
        rows: list[Row] = [
            (
                s.name,
                (
                    s.name,
                    s.symbol,
                    state_text(s),
                    Text(fmt_qty(s.position), justify="right"),
                    signed_text(s.pnl),
                    Text(str(s.orders_sent), justify="right"),
                    signal_text(s.last_signal),
                ),
            )
            for s in strategies
        ]
        self.sync(rows)
