"""The trading screen: every panel, every key, and the one timer that redraws them.

Rendering discipline: a single timer at `refresh_hz` pulls `engine.snapshot()` and hands each
panel its part only when that part was replaced (`is not` the object drawn last time); the log
panel pulls new lines on the same tick. Nothing is redrawn per exchange message, and a burst of
market data costs at most one redraw per frame.

Commands run as workers that await the engine and report back with `CommandFinished` /
`CommandFailed`; the key handler itself returns at once, so the UI never waits on the engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import ClassVar

from loguru import logger
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable
from textual.worker import Worker

from kraken_tui.domain import (
    BookSnapshot,
    Candle,
    ComponentState,
    Execution,
    Mode,
    Order,
    Position,
    StrategyState,
    TradingState,
)
from kraken_tui.engine.api import CommandResult, EngineApi, EngineSnapshot, StrategySnapshot
from kraken_tui.exchange.protocol import ConnectionStatus
from kraken_tui.ui.errors import guarded, report_worker_failure
from kraken_tui.ui.heap import tune_gc_after_start
from kraken_tui.ui.messages import CommandFailed, CommandFinished, SymbolSelected
from kraken_tui.ui.screens.amend_ticket import AmendTicket
from kraken_tui.ui.screens.confirm_screen import ConfirmScreen
from kraken_tui.ui.screens.help_screen import HelpScreen
from kraken_tui.ui.screens.order_ticket import OrderTicket
from kraken_tui.ui.screens.symbol_picker import SymbolPicker
from kraken_tui.ui.widgets.fills_table import FillsTable
from kraken_tui.ui.widgets.key_footer import KeyFooter
from kraken_tui.ui.widgets.log_panel import LogPanel
from kraken_tui.ui.widgets.order_book_ladder import OrderBookLadder
from kraken_tui.ui.widgets.orders_table import OrdersTable
from kraken_tui.ui.widgets.positions_table import PositionsTable
from kraken_tui.ui.widgets.price_chart import PriceChart
from kraken_tui.ui.widgets.status_bar import StatusBar
from kraken_tui.ui.widgets.strategies_table import StrategiesTable

Clock = Callable[[], datetime]

PANELS = ("strategies", "positions", "orders", "fills", "log")
"""Tab order. In the compact layout only the current one is shown, beside the ladder; the
ladder and chart take no keys, so they are never current."""

PANEL_TITLES = {
    "strategies": ("Strategies", "p pause · P all"),
    "positions": ("Positions", ""),
    "orders": ("Open orders", "a amend · c cancel · C all"),
    "fills": ("Recent fills", ""),
}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Drawn:
    """The snapshot parts each panel last drew; a part is redrawn only if it is a new object."""

    symbol: str | None = None
    book: BookSnapshot | None = None
    connection: ConnectionStatus | None = None
    ladder_orders: tuple[Order, ...] | None = None
    candles: tuple[Candle, ...] | None = None
    chart_orders: tuple[Order, ...] | None = None
    chart_fills: tuple[Execution, ...] | None = None
    strategies: tuple[StrategySnapshot, ...] | None = None
    positions: tuple[Position, ...] | None = None
    table_orders: tuple[Order, ...] | None = None
    table_fills: tuple[Execution, ...] | None = None


COMPACT_BELOW_WIDTH = 100
COMPACT_BELOW_HEIGHT = 30


class MainScreen(Screen[None]):
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [  # type: ignore[misc]  # Textual's annotation reads as an instance variable
        (0, "-narrow"),
        (COMPACT_BELOW_WIDTH, "-wide"),
    ]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [  # type: ignore[misc]  # Textual's annotation reads as an instance variable
        (0, "-short"),
        (COMPACT_BELOW_HEIGHT, "-tall"),
    ]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_strategy", "Pause/resume"),
        Binding("P", "toggle_all", "All"),
        Binding("k", "kill_switch", "Kill"),
        Binding("k", "reset_kill_switch", "Reset kill"),
        Binding("o", "order_ticket", "Order"),
        Binding("a", "amend_order", "Amend"),
        Binding("c", "cancel_order", "Cancel"),
        Binding("C", "cancel_all", "Cancel all"),
        Binding("s", "switch_symbol", "Symbol"),
        Binding("slash", "search_log", "Search"),
        Binding("l", "cycle_log_level", "Level"),
        Binding("tab", "next_panel", "Next panel", show=False),
        Binding("shift+tab", "previous_panel", "Previous panel", show=False),
        Binding("b", "backtests", "Backtests", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    KEY_HELP: ClassVar[tuple[tuple[str, str], ...]] = (
        ("p", "pause / resume the selected strategy"),
        ("P", "pause all strategies (resume all when none is running)"),
        ("k", "kill switch: halt trading and cancel all orders; when HALTED, reset it"),
        ("o", "open the order ticket (limit, stop, market; a market buy can spend a quote amount)"),
        ("a", "amend the selected open order's price or volume in place"),
        ("c", "cancel the selected open order"),
        ("C", "cancel all open orders (asks first)"),
        ("s", "switch the symbol shown in the book and chart"),
        ("tab / shift+tab", "move between panels"),
        ("/", "search the log (esc clears)"),
        ("l", "cycle the minimum log level"),
        ("b", "stored backtest runs: metrics and equity curve"),
        ("↑ ↓", "move the selection in a table"),
        ("ctrl+p", "command palette: every action by name"),
        ("?", "this help"),
        ("q", "quit (asks first in LIVE mode with open orders)"),
    )

    current_panel: reactive[str] = reactive("strategies")

    def __init__(self, engine: EngineApi, *, mode: Mode, clock: Clock, refresh_hz: float) -> None:
        super().__init__()
        self.engine = engine
        self.mode = mode
        self.clock = clock
        self.refresh_hz = refresh_hz
        self.symbol: str | None = None
        self.snapshot: EngineSnapshot | None = None
        self._drawn = _Drawn()
        self._last_error: str | None = None
        self._gc_tuned = False
        self.status_bar = StatusBar(mode, id="status")
        self.ladder = OrderBookLadder(id="ladder", classes="panel")
        self.chart = PriceChart(id="chart", classes="panel")
        self.strategies = StrategiesTable(id="strategies", classes="panel")
        self.positions = PositionsTable(id="positions", classes="panel")
        self.orders = OrdersTable(id="orders", classes="panel")
        self.fills = FillsTable(id="fills", classes="panel")
        self.log_panel = LogPanel(id="log", classes="panel")
        self.footer = KeyFooter()

    def compose(self) -> ComposeResult:
        yield self.status_bar
        with Horizontal(id="top"):
            yield self.ladder
            yield self.chart
        with Horizontal(id="row-a", classes="panel-row"):
            yield self.strategies
            yield self.positions
        with Horizontal(id="row-b", classes="panel-row"):
            yield self.orders
            yield self.fills
        with Horizontal(id="row-log", classes="panel-row"):
            yield self.log_panel
        yield self.footer

    def on_mount(self) -> None:
        for panel_id, (_, subtitle) in PANEL_TITLES.items():
            self.query_one(f"#{panel_id}").border_subtitle = subtitle
        self._mark_current(self.current_panel)
        self.refresh_from_engine()
        self.set_interval(1 / self.refresh_hz, self.refresh_from_engine, name="engine-refresh")
        self.query_one("#strategies").focus()

    # -- rendering -------------------------------------------------------------------------

    def refresh_from_engine(self) -> None:
        """The frame tick: draw what changed. An exception is reported, never fatal, and
        reported once per distinct message so a persistent fault cannot flood the screen."""
        try:
            snapshot = self.engine.snapshot()
            with self.app.batch_update():
                self._draw(snapshot)
            self.log_panel.append(self.engine.log_lines_since(self.log_panel.last_seq))
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            if message != self._last_error:
                self._last_error = message
                logger.opt(exception=exc).error("UI refresh failed: {}", message)
                self.notify(message, title="Display error", severity="error", timeout=10)
            return
        self._last_error = None

    def _draw(self, snap: EngineSnapshot) -> None:
        drawn = self._drawn
        if self.symbol not in snap.symbols:
            self.symbol = snap.symbols[0] if snap.symbols else None
        symbol = self.symbol
        book = snap.books.get(symbol) if symbol else None
        instrument = snap.instruments.get(symbol) if symbol else None
        candles = snap.candles.get(symbol, ()) if symbol else ()
        self.status_bar.show(snap, self.clock())
        symbol_changed = symbol != drawn.symbol
        if (
            symbol_changed
            or book is not drawn.book
            or snap.connection is not drawn.connection
            or snap.open_orders is not drawn.ladder_orders
        ):
            self.ladder.show(book, instrument, snap.connection, snap.open_orders)
        if (
            symbol_changed
            or candles is not drawn.candles
            or snap.open_orders is not drawn.chart_orders
            or snap.recent_fills is not drawn.chart_fills
        ):
            self.chart.show(candles, instrument, snap.open_orders, snap.recent_fills)
            drawn.candles, drawn.chart_orders, drawn.chart_fills = (
                candles,
                snap.open_orders,
                snap.recent_fills,
            )
        if snap.strategies is not drawn.strategies:
            self.strategies.show(snap.strategies)
            drawn.strategies = snap.strategies
        if snap.positions is not drawn.positions:
            self.positions.show(snap.positions, snap.instruments)
            drawn.positions = snap.positions
        if snap.open_orders is not drawn.table_orders:
            self.orders.show(snap.open_orders, snap.instruments)
            drawn.table_orders = snap.open_orders
            self._title_panels()
        if snap.recent_fills is not drawn.table_fills:
            self.fills.show(snap.recent_fills, snap.instruments)
            drawn.table_fills = snap.recent_fills
        drawn.symbol, drawn.book = symbol, book
        drawn.connection, drawn.ladder_orders = snap.connection, snap.open_orders
        if snap.state is ComponentState.RUNNING and not self._gc_tuned:
            self._gc_tuned = True
            frozen = tune_gc_after_start()
            logger.debug("engine running: {} start-up objects moved out of GC's way", frozen)
        halted_before = self._halted()
        self.snapshot = snap
        if self._halted() != halted_before:
            self.refresh_bindings()

    # -- panels ----------------------------------------------------------------------------

    def watch_current_panel(self, panel: str) -> None:
        self._mark_current(panel)

    def on_resize(self) -> None:
        self._title_panels()

    @on(DataTable.RowHighlighted, "#orders")
    def _order_highlighted(self) -> None:
        self._title_panels()

    def _title_panels(self) -> None:
        """In the compact layout each table's title says where it is in the tab cycle, since
        the other tables are out of sight. The orders title names the selected order in full
        (the table shows a short id)."""
        compact = self.size.width < COMPACT_BELOW_WIDTH or self.size.height < COMPACT_BELOW_HEIGHT
        narrow = self.size.width < COMPACT_BELOW_WIDTH
        self.footer.narrow = narrow
        for table in (self.strategies, self.positions, self.orders, self.fills):
            table.compact = narrow
        for index, panel in enumerate(PANELS, start=1):
            hint = f"  {index}/{len(PANELS)} · tab ▸" if compact else ""
            if panel == "orders":
                detail = self.orders.describe(self.orders.selected_key)
                hint += f" ─ {detail}" if detail else ""
            if panel in PANEL_TITLES:
                self.query_one(f"#{panel}").border_title = PANEL_TITLES[panel][0] + hint
            else:
                self.log_panel.title_hint = hint

    def _mark_current(self, panel: str) -> None:
        panels = list(self.query(".panel, .panel-row"))
        for widget in panels:
            widget.remove_class("-current")
        current = self.query_one(f"#{panel}")
        current.add_class("-current")
        if current.parent is not None and isinstance(current.parent, Widget):
            current.parent.add_class("-current")
        # Apply the compact layout's display rules now rather than on the next refresh, so the
        # panel is already displayed (hence focusable) when `_focus_panel` focuses it.
        self.app.stylesheet.update_nodes(panels, animate=False)

    def _focus_panel(self, panel: str) -> None:
        self.current_panel = panel
        target: Widget = self.query_one(f"#{panel}")
        if isinstance(target, LogPanel):
            target = target.log_view
        # Focus synchronously (`Widget.focus` defers to `call_later`) so that the next key
        # already finds the new panel focused.
        self.set_focus(target)

    @guarded
    def action_next_panel(self) -> None:
        self._focus_panel(PANELS[(PANELS.index(self.current_panel) + 1) % len(PANELS)])

    @guarded
    def action_previous_panel(self) -> None:
        self._focus_panel(PANELS[(PANELS.index(self.current_panel) - 1) % len(PANELS)])

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        focused = self.focused
        for panel in PANELS:
            widget = self.query_one(f"#{panel}")
            if focused is widget or (focused is not None and widget in focused.ancestors):
                if self.current_panel != panel:
                    self.current_panel = panel
                return

    # -- commands --------------------------------------------------------------------------

    def run_command(self, action: str, call: Callable[[], Awaitable[CommandResult]]) -> None:
        """Send a command to the engine without waiting for it here. If the engine has not
        answered by the frame after next (a remote engine may be slow), say that it was sent,
        so every key gets visible feedback within a frame or two."""
        worker = self.run_worker(
            self._command(action, call), name=action, group="engine-commands", exit_on_error=False
        )
        self.set_timer(2 / self.refresh_hz, partial(self._report_pending, worker, action))

    def _report_pending(self, worker: Worker[None], action: str) -> None:
        if not worker.is_finished:
            self.notify(f"{action}: sent, waiting for the engine…", timeout=3)

    async def _command(self, action: str, call: Callable[[], Awaitable[CommandResult]]) -> None:
        try:
            result = await call()
        except Exception as exc:
            logger.opt(exception=exc).error("command {} failed", action)
            self.post_message(CommandFailed(action, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(CommandFinished(action, result))

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self, event)

    @on(CommandFinished)
    def _command_finished(self, message: CommandFinished) -> None:
        result = message.result
        self.notify(
            result.message,
            title=message.action if result.ok else f"{message.action} refused",
            severity="information" if result.ok else "error",
        )
        self.refresh_from_engine()

    @on(CommandFailed)
    def _command_failed(self, message: CommandFailed) -> None:
        self.notify(message.error, title=f"{message.action} failed", severity="error", timeout=10)

    @on(SymbolSelected)
    def _symbol_selected(self, message: SymbolSelected) -> None:
        self.symbol = message.symbol
        self.refresh_from_engine()

    # -- actions ---------------------------------------------------------------------------

    @guarded
    def action_toggle_strategy(self) -> None:
        snap = self.snapshot
        name = self.strategies.selected_key
        strategy = next((s for s in snap.strategies if s.name == name), None) if snap else None
        if strategy is None:
            self.notify("No strategy selected", severity="warning")
            return
        if strategy.state is StrategyState.PAUSED:
            self.run_command(f"Resume {name}", lambda: self.engine.resume(strategy.name))
        else:
            self.run_command(f"Pause {name}", lambda: self.engine.pause(strategy.name))

    @guarded
    def action_toggle_all(self) -> None:
        snap = self.snapshot
        if snap is not None and any(s.state is StrategyState.RUNNING for s in snap.strategies):
            self.run_command("Pause all", self.engine.pause_all)
        else:
            self.run_command("Resume all", self.engine.resume_all)

    def _halted(self) -> bool:
        snap = self.snapshot
        return snap is not None and snap.risk.trading_state is TradingState.HALTED

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`k` is bound twice: to the kill switch while trading, to its reset while HALTED;
        the footer shows whichever applies."""
        if action == "kill_switch":
            return not self._halted()
        if action == "reset_kill_switch":
            return self._halted()
        return True

    @guarded
    def action_kill_switch(self) -> None:
        open_orders = len(self.snapshot.open_orders) if self.snapshot else 0
        self.app.push_screen(
            ConfirmScreen(
                "KILL SWITCH",
                f"Halt all trading and cancel {open_orders} open orders?\n"
                "Only cancels are allowed until the switch is reset (k).",
                "Kill",
            ),
            self._kill_confirmed,
        )

    @guarded
    def action_reset_kill_switch(self) -> None:
        reason = self.snapshot.risk.reason if self.snapshot else ""
        self.app.push_screen(
            ConfirmScreen(
                "Reset the kill switch?",
                f"Trading is HALTED ({reason or 'no reason given'}).\n"
                "Reset allows strategies and manual orders to trade again.",
                "Reset",
            ),
            self._reset_confirmed,
        )

    @guarded
    def _kill_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            self.run_command("Kill switch", lambda: self.engine.kill_switch("manual (console)"))
        else:
            self.notify("Kill switch not fired")

    @guarded
    def _reset_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            self.run_command("Reset kill switch", self.engine.reset_kill_switch)

    @guarded
    def action_order_ticket(self) -> None:
        self.app.push_screen(OrderTicket(self.engine, self.symbol), self._ticket_closed)

    @guarded
    def _ticket_closed(self, result: CommandResult | None) -> None:
        if result is not None:
            self.post_message(CommandFinished("Order", result))

    @guarded
    def action_amend_order(self) -> None:
        cl_ord_id = self.orders.selected_key
        open_orders = self.snapshot.open_orders if self.snapshot else ()
        order = next((o for o in open_orders if o.cl_ord_id == cl_ord_id), None)
        if order is None:
            self.notify("No open order selected (tab to Open orders, then ↑ ↓)", severity="warning")
            return
        self.app.push_screen(AmendTicket(self.engine, order), self._amend_closed)

    @guarded
    def _amend_closed(self, result: CommandResult | None) -> None:
        if result is not None:
            self.post_message(CommandFinished("Amend", result))

    @guarded
    def action_cancel_order(self) -> None:
        cl_ord_id = self.orders.selected_key
        if cl_ord_id is None:
            self.notify("No open order selected", severity="warning")
            return
        self.run_command(f"Cancel {cl_ord_id}", lambda: self.engine.cancel_order(cl_ord_id))

    @guarded
    def action_cancel_all(self) -> None:
        count = len(self.snapshot.open_orders) if self.snapshot else 0
        if count == 0:
            self.notify("No open orders", severity="warning")
            return
        self.app.push_screen(
            ConfirmScreen("Cancel all orders?", f"Cancel all {count} open orders?", "Cancel all"),
            self._cancel_all_confirmed,
        )

    @guarded
    def _cancel_all_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            self.run_command("Cancel all", self.engine.cancel_all)

    @guarded
    def action_switch_symbol(self) -> None:
        symbols = self.snapshot.symbols if self.snapshot else ()
        self.app.push_screen(SymbolPicker(symbols, self.symbol), self._symbol_picked)

    @guarded
    def _symbol_picked(self, symbol: str | None) -> None:
        if symbol is not None:
            self.post_message(SymbolSelected(symbol))

    @guarded
    def action_search_log(self) -> None:
        self.current_panel = "log"
        self.log_panel.start_search()

    @guarded
    def action_cycle_log_level(self) -> None:
        level = self.log_panel.cycle_level()
        self.notify(f"Log shows {level} and above", timeout=2)

    @guarded
    def action_backtests(self) -> None:
        self.app.show_backtests()  # type: ignore[attr-defined]  # self.app is typed as Textual's App

    @guarded
    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.KEY_HELP))

    @guarded
    def action_quit(self) -> None:
        snap = self.snapshot
        live = self.mode is Mode.LIVE or (snap is not None and snap.mode is Mode.LIVE)
        if live and snap is not None and snap.open_orders:
            self.app.push_screen(
                ConfirmScreen(
                    "Quit while orders are open?",
                    f"{len(snap.open_orders)} LIVE orders stay on the exchange after you quit.",
                    "Quit",
                ),
                self._quit_confirmed,
            )
            return
        self.app.exit()

    @guarded
    def _quit_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            self.app.exit()
