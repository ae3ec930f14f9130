"""Every key of the console, driven through Textual's Pilot, asserted on the engine's state,
not on pixels. The trading keys (kill switch, pause, cancel, order ticket) are proven on a real
engine and sandbox in `test_ui_on_real_engine.py`; here the `StaticEngine` fixture (held to the
engine by `test_ui_static_engine_contract.py`) gives the seeded, clock-fixed states the rest
need: layouts, focus, the log, failing or slow engines, states the engine reaches by itself."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import replace
from decimal import Decimal

from rich.text import Text
from static_engine import FIXED_NOW, StaticEngine
from textual.binding import Binding
from textual.widgets import Checkbox, DataTable, Input, Label, Select

from kraken_tui.domain import (
    BookLevel,
    ConnectionState,
    Mode,
    OrderType,
    Side,
    StrategyState,
    TradingState,
)
from kraken_tui.engine.api import CommandResult, LogLine, ManualOrder, RiskDecision
from kraken_tui.exchange.protocol import ConnectionStatus
from kraken_tui.ui.app import KrakenTuiApp
from kraken_tui.ui.commands import ACTIONS
from kraken_tui.ui.heap import YOUNG_THRESHOLD, tune_gc_after_start
from kraken_tui.ui.screens.confirm_screen import ConfirmScreen
from kraken_tui.ui.screens.help_screen import HelpScreen
from kraken_tui.ui.screens.main_screen import MainScreen
from kraken_tui.ui.screens.order_ticket import PREVIEW_DELAY, OrderTicket
from kraken_tui.ui.widgets.key_footer import KeyFooter
from kraken_tui.ui.widgets.log_panel import LEVEL_STYLES, LevelHighlighter, LogPanel, format_line
from kraken_tui.ui.widgets.order_book_ladder import OrderBookLadder
from kraken_tui.ui.widgets.status_bar import StatusBar

SIZE = (120, 40)
PREVIEW_WAIT = PREVIEW_DELAY + 0.2
"""Long enough for the ticket's debounced risk preview to have run."""


def make_app(engine: StaticEngine, mode: Mode = Mode.SANDBOX) -> KrakenTuiApp:
    return KrakenTuiApp(engine, mode=mode, clock=lambda: FIXED_NOW)


def strategy_state(engine: StaticEngine, name: str) -> StrategyState:
    return next(s.state for s in engine.snapshot().strategies if s.name == name)


def open_order_ids(engine: StaticEngine) -> list[str]:
    return [o.cl_ord_id for o in engine.snapshot().open_orders]


def notifications(app: KrakenTuiApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_k_then_n_leaves_trading_active() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("k", "n")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert engine.snapshot().risk.trading_state is TradingState.ACTIVE
        assert engine.commands == []


async def test_c_with_no_open_orders_says_so_instead_of_sending() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("C", "y")
        await pilot.pause()
        engine.commands.clear()
        await pilot.press("c")
        await pilot.pause()
        assert engine.commands == []
        assert "No open order selected" in notifications(app)


async def test_o_opens_a_ticket_priced_at_the_best_bid_that_sends_that_limit_order() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        assert isinstance(app.screen, OrderTicket)
        await pilot.press(*"0.01")
        await pilot.pause(PREVIEW_WAIT)
        assert "Risk: allowed" in str(app.screen.query_one("#ticket-risk").render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        placed = engine.snapshot().open_orders[-1]
        assert (placed.symbol, placed.side, placed.volume) == ("BTC/USD", "buy", Decimal("0.01"))
        assert placed.price == Decimal("64249.5")


async def test_ticket_shows_the_minimum_error_as_the_user_types_and_refuses_to_send() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", *"0.00001")
        await pilot.pause()
        errors = str(app.screen.query_one("#ticket-errors").render())
        assert "EOrder:Order minimum not met" in errors
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, OrderTicket)
        assert engine.commands == []


async def test_ticket_shows_the_risk_denial_before_sending() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", *"0.5")
        await pilot.pause(PREVIEW_WAIT)
        risk = str(app.screen.query_one("#ticket-risk").render())
        assert "DENIED by max_order_notional" in risk
        assert "32,124.75" in str(app.screen.query_one("#ticket-notional").render())


async def test_ticket_shows_the_engines_refusal_and_stays_open() -> None:
    class RefusingEngine(StaticEngine):
        async def submit_manual_order(self, order: object) -> CommandResult:
            return CommandResult(False, "EOrder:Insufficient funds")

    engine = RefusingEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", *"0.01", "ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, OrderTicket)
        risk = str(app.screen.query_one("#ticket-risk").render())
        assert "Refused: EOrder:Insufficient funds" in risk


async def test_s_switches_the_symbol_of_the_ladder() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "down", "enter")
        await pilot.pause()
        ladder = app.screen.query_one(OrderBookLadder)
        assert ladder.border_title == "Book ETH/USD"
        assert ladder.book is engine.snapshot().books["ETH/USD"]


async def test_tab_and_shift_tab_move_focus_between_panels() -> None:
    app = make_app(StaticEngine())
    async with app.run_test(size=SIZE) as pilot:
        assert app.focused is not None and app.focused.id == "strategies"
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "positions"
        await pilot.press("shift+tab", "shift+tab")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "log-view"


async def test_tab_in_a_small_terminal_shows_the_next_panel_in_place_of_the_current() -> None:
    app = make_app(StaticEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert screen.query_one("#strategies").display
        assert not screen.query_one("#orders").display
        await pilot.press("tab", "tab")
        await pilot.pause()
        assert screen.query_one("#orders").display
        assert not screen.query_one("#strategies").display
        assert app.focused is screen.query_one("#orders")


async def test_slash_searches_the_log() -> None:
    app = make_app(StaticEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"timed")
        await pilot.pause()
        assert isinstance(app.focused, Input)
        lines = app.screen.query_one(LogPanel).visible_lines()
        assert len(lines) == 1 and "REST AddOrder timed out" in lines[0]
        await pilot.press("escape")
        assert len(app.screen.query_one(LogPanel).visible_lines()) > 1


async def test_l_raises_the_log_level_and_hides_debug_lines() -> None:
    app = make_app(StaticEngine())
    async with app.run_test(size=SIZE) as pilot:
        panel = app.screen.query_one(LogPanel)
        assert any(" DEBUG " in line for line in panel.visible_lines())
        await pilot.press("l")
        assert panel.min_level == "INFO"
        assert not any(" DEBUG " in line for line in panel.visible_lines())
        await pilot.press("l", "l")
        assert all(" ERROR " in line for line in panel.visible_lines())


async def test_new_engine_log_lines_appear_on_the_next_tick() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await pilot.pause(0.2)
        assert "sma_cross paused" in app.screen.query_one(LogPanel).visible_lines()[-1]


async def test_question_mark_opens_help_listing_every_key() -> None:
    app = make_app(StaticEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_q_quits_at_once_in_sandbox() -> None:
    app = make_app(StaticEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app._exit


async def test_q_in_live_mode_with_open_orders_asks_before_quitting() -> None:
    app = make_app(StaticEngine(Mode.LIVE), mode=Mode.LIVE)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert isinstance(app.screen, MainScreen) and not app._exit
        await pilot.press("q", "y")
        await pilot.pause()
        assert app._exit


async def test_ctrl_q_in_live_mode_with_open_orders_also_asks() -> None:
    app = make_app(StaticEngine(Mode.LIVE), mode=Mode.LIVE)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmScreen)
        assert not app._exit


def test_every_key_action_is_in_the_command_palette() -> None:
    bound = {b.action for b in MainScreen.BINDINGS if isinstance(b, Binding)}
    assert bound == {action for _, action, _ in ACTIONS}


def test_help_lists_every_bound_key() -> None:
    described = " / ".join(keys for keys, _ in MainScreen.KEY_HELP)
    display = {"slash": "/", "question_mark": "?"}
    for binding in MainScreen.BINDINGS:
        assert isinstance(binding, Binding)
        assert display.get(binding.key, binding.key) in described.split(" / ")


async def test_command_palette_runs_an_action_by_name() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"pause all")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert engine.commands == ["pause_all"]


async def test_an_engine_command_that_raises_is_shown_and_the_app_keeps_running() -> None:
    class BrokenEngine(StaticEngine):
        async def pause(self, strategy: str) -> CommandResult:
            raise ConnectionError("engine unreachable")

    engine = BrokenEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await pilot.pause()
        assert "ConnectionError: engine unreachable" in notifications(app)
        await pilot.press("P")
        await pilot.pause()
        assert engine.commands == ["pause_all"]


async def test_a_snapshot_that_fails_to_draw_is_reported_once_and_drawing_resumes() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        good = engine.snapshot()
        engine._snapshot = replace(good, strategies=(None,))  # type: ignore[arg-type]
        await pilot.pause(0.3)
        assert sum("AttributeError" in m for m in notifications(app)) == 1
        engine._snapshot = good
        await pilot.press("p")
        await pilot.pause()
        assert strategy_state(engine, "sma_cross") is StrategyState.PAUSED


async def test_a_lost_connection_shows_in_the_status_bar_and_the_ladder() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        engine.set_connection(ConnectionStatus(ConnectionState.RECONNECTING, "socket closed"))
        await pilot.pause(0.2)
        assert "RECONNECTING" in app.screen.query_one(StatusBar).plain
        ladder = app.screen.query_one(OrderBookLadder)
        assert ladder.border_subtitle == "FEED RECONNECTING"


async def test_a_book_change_repaints_only_the_rows_that_changed() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        ladder = app.screen.query_one(OrderBookLadder)
        before = list(ladder._strips)
        book = engine.snapshot().books["BTC/USD"]
        second = book.asks[1]
        asks = (book.asks[0], BookLevel(second.price, second.qty / 2), *book.asks[2:])
        engine._snapshot = replace(
            engine.snapshot(),
            books={**engine.snapshot().books, "BTC/USD": replace(book, asks=asks)},
        )
        await pilot.pause(0.2)
        changed = {
            y for y, (a, b) in enumerate(zip(before, ladder._strips, strict=True)) if a is not b
        }
        best_ask_row = next(y for y, row in enumerate(ladder._rows) if row.kind == "mid") - 1
        # The second ask and every ask behind it (their cumulative size fell); nothing else.
        assert changed == set(range(1, best_ask_row))


async def test_keys_typed_right_after_tab_go_to_the_new_panel() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("tab", "tab", "down", "c")
        await pilot.pause()
        assert engine.commands == ["cancel:grid-0007"]


async def test_text_typed_right_after_slash_goes_to_the_search() -> None:
    app = make_app(StaticEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"timed", "enter")
        await pilot.pause()
        assert app.screen.query_one(LogPanel).search == "timed"


async def test_log_keeps_following_new_lines_across_a_resize_to_compact() -> None:
    engine = StaticEngine()
    for _ in range(10):  # more lines than the log beside the ladder shows at 80x24
        await engine.pause_all()
        await engine.resume_all()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.resize_terminal(80, 24)
        await pilot.press(*["tab"] * 4)
        await pilot.pause(0.2)
        view = app.screen.query_one(LogPanel).log_view
        assert view.scroll_y == view.max_scroll_y > 0


async def test_log_does_not_jump_while_the_user_reads_back() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        view = app.screen.query_one(LogPanel).log_view
        await pilot.pause()
        view.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        await pilot.press("P")
        await pilot.pause(0.2)
        assert view.scroll_y == 0
        assert any("all running strategies" in line for line in view.lines)


async def test_a_slow_engine_command_is_acknowledged_before_it_returns() -> None:
    release = asyncio.Event()

    class SlowEngine(StaticEngine):
        async def pause_all(self) -> CommandResult:
            await release.wait()
            return await super().pause_all()

    engine = SlowEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("P")
        await pilot.pause(0.3)
        assert "Pause all: sent, waiting for the engine…" in notifications(app)
        release.set()
        await pilot.pause(0.1)
        assert engine.commands == ["pause_all"]


async def test_the_order_cursor_stays_on_the_same_order_when_rows_above_it_go() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#orders", DataTable)
        table.focus()
        await pilot.press("down", "down")
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == "manual-0003"
        await engine.cancel_order("sma-0001")
        await pilot.pause(0.2)
        await pilot.press("c")
        await pilot.pause()
        assert engine.commands[-1] == "cancel:manual-0003"


async def test_a_changed_cell_is_updated_in_place_and_widens_its_column() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#strategies", DataTable)
        strategies = engine.snapshot().strategies
        richer = replace(strategies[0], pnl=Decimal("123456.78"))
        engine._snapshot = replace(engine.snapshot(), strategies=(richer, *strategies[1:]))
        width = len("+123,456.78")
        for _ in range(50):  # the next frame redraws it; on a loaded machine that can be late
            await pilot.pause(0.1)
            column = table.ordered_columns[table.get_column_index("pnl")]
            if column.content_width >= width:
                break
        assert str(table.get_cell("sma_cross", "pnl")) == "+123,456.78"
        assert column.content_width >= width
        assert table.row_count == 3


async def test_an_order_the_risk_preview_denies_is_not_sent() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", *"0.5", "ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, OrderTicket)
        assert engine.commands == []
        assert "Denied by max_order_notional" in notifications(app)


async def test_a_failing_risk_preview_is_shown_and_the_ticket_keeps_working() -> None:
    class NoPreviewEngine(StaticEngine):
        def preview_order(self, order: object) -> RiskDecision:
            raise TimeoutError("risk service slow")

    engine = NoPreviewEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", *"0.01")
        await pilot.pause(PREVIEW_WAIT)
        risk = str(app.screen.query_one("#ticket-risk").render())
        assert "preview unavailable (TimeoutError: risk service slow)" in risk
        await pilot.press("ctrl+s")
        await pilot.pause()
        # Sent (the preview is only advice); this engine's own check raises, and the ticket
        # shows that as the refusal instead of crashing.
        assert engine.commands == ["submit:BTC/USD:buy:0.01"]
        refusal = str(app.screen.query_one("#ticket-risk").render())
        assert refusal == "Refused: TimeoutError: risk service slow"


async def test_every_ladder_level_is_redrawn_dimmed_when_the_feed_goes_stale() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        ladder = app.screen.query_one(OrderBookLadder)
        engine.set_connection(ConnectionStatus(ConnectionState.STALE, "no heartbeat"))
        await pilot.pause(0.2)
        levels = [row for row in ladder._rows if row.kind in ("ask", "bid")]
        assert levels and all(row.stale for row in levels)
        assert any(row.kind == "warning" and row.note == "FEED STALE" for row in ladder._rows)


async def test_typing_a_volume_asks_the_engine_for_one_risk_preview_not_one_per_key() -> None:
    class CountingEngine(StaticEngine):
        def __init__(self) -> None:
            super().__init__()
            self.previews = 0

        def preview_order(self, order: ManualOrder) -> RiskDecision:
            self.previews += 1
            return super().preview_order(order)

    engine = CountingEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", *"0.0125")
        await pilot.pause(PREVIEW_WAIT)
        assert engine.previews == 1
        assert "Risk: allowed" in str(app.screen.query_one("#ticket-risk").render())
        await pilot.press("tab")
        await pilot.pause(PREVIEW_WAIT)
        assert engine.previews == 1


async def test_the_ticket_sends_a_stop_loss_with_its_trigger_price() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        ticket.query_one("#ticket-side", Select).value = Side.SELL
        ticket.query_one("#ticket-type", Select).value = OrderType.STOP_LOSS
        ticket.query_one("#ticket-price", Input).value = "60000.0"
        await pilot.press(*"0.01")
        await pilot.pause()
        assert str(ticket.query_one("#ticket-price-label", Label).render()) == "Trigger"
        assert ticket.query_one("#ticket-post-only", Checkbox).disabled
        await pilot.press("ctrl+s")
        await pilot.pause()
        placed = engine.snapshot().open_orders[-1]
        assert (placed.order_type, placed.side) == (OrderType.STOP_LOSS, Side.SELL)
        assert (placed.price, placed.trigger_price) == (None, Decimal("60000.0"))


async def test_the_ticket_sends_a_post_only_limit_order() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        app.screen.query_one("#ticket-post-only", Checkbox).value = True
        await pilot.press(*"0.01", "ctrl+s")
        await pilot.pause()
        placed = engine.snapshot().open_orders[-1]
        assert placed.post_only and placed.order_type is OrderType.LIMIT


async def test_positions_list_the_account_once_per_symbol_not_each_strategys_share() -> None:
    engine = StaticEngine()
    assert len([p for p in engine.snapshot().positions if p.symbol == "BTC/USD"]) == 2
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#positions", DataTable)
        symbols = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert symbols == ["BTC/USD", "ETH/USD"]


async def test_a_long_order_id_is_shortened_and_named_in_full_in_the_title_when_selected() -> None:
    engine = StaticEngine()
    long_id = "c3bcf030d730432b979fdc57d2955aed"
    first = engine.snapshot().open_orders[0]
    engine._snapshot = replace(
        engine.snapshot(), open_orders=(replace(first, cl_ord_id=long_id, strategy="mm_eth"),)
    )
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        orders = app.screen.query_one("#orders", DataTable)
        assert str(orders.get_cell(long_id, "id")) == "c3bcf030…"
        assert f"{long_id} · mm_eth" in str(orders.border_title)
        await pilot.press(*["tab"] * 2, "c")
        await pilot.pause()
        assert engine.commands == [f"cancel:{long_id}"]


async def test_the_footer_keeps_help_and_quit_in_view_at_80_columns() -> None:
    app = make_app(StaticEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(KeyFooter)
        actions = [getattr(key, "action", None) for key in footer.children]
        assert {"help", "quit", "toggle_strategy", "order_ticket"} <= set(actions)
        assert "cancel_all" not in actions
        assert sum(key.outer_size.width for key in footer.children) <= 80
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert "cancel_all" in [getattr(key, "action", None) for key in footer.children]


async def test_log_keeps_following_when_batches_arrive_faster_than_frames() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.screen.query_one(LogPanel)
        await pilot.pause()
        for _ in range(20):
            for index in range(5):
                engine._append_log("INFO", "burst", f"line {index}")
            panel.append(engine.log_lines_since(panel.last_seq))
        await pilot.pause(0.2)
        view = panel.log_view
        assert view.scroll_y == view.max_scroll_y > 0


async def test_recent_fills_stay_at_the_newest_when_new_fills_arrive() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        fills = engine.snapshot().recent_fills
        newer = tuple(
            replace(fill, exec_id=f"NEW{index}", ts=FIXED_NOW) for index, fill in enumerate(fills)
        )
        engine._snapshot = replace(engine.snapshot(), recent_fills=(*newer, *fills))
        await pilot.pause(0.2)
        table = app.screen.query_one("#fills", DataTable)
        assert table.cursor_row == 0
        assert table.scroll_y == 0
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == "NEW0"


def test_log_levels_are_coloured_in_their_column_only() -> None:
    warning = LogLine(1, FIXED_NOW, "WARNING", "kraken_tui.engine.portfolio", "no price yet")
    critical = LogLine(2, FIXED_NOW, "CRITICAL", "kraken_tui.engine.engine", "kill switch")
    for line in (warning, critical):
        text = Text(format_line(line))
        LevelHighlighter().highlight(text)
        (span,) = text.spans
        assert text.plain[span.start : span.end] == line.level
        assert span.style == LEVEL_STYLES[line.level]
    assert format_line(warning).split()[2:4] == ["portfolio", "no"]
    assert format_line(critical).index("engine") == format_line(warning).index("portfolio")


async def test_gc_is_tuned_once_the_engine_runs_start_up_objects_frozen() -> None:
    app = make_app(StaticEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert tune_gc_after_start() == 0


async def test_b_opens_the_stored_backtest_runs_and_says_so_when_there_is_no_store() -> None:
    from kraken_tui.ui.screens.backtest_screen import BacktestScreen

    class NoRuns:
        async def recent(self, limit: int = 50) -> list:
            return []

        async def get(self, run_id: int) -> None:
            return None

    app = KrakenTuiApp(StaticEngine(), mode=Mode.SANDBOX, backtests=NoRuns())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, BacktestScreen)
    remote = KrakenTuiApp(StaticEngine(), mode=Mode.SANDBOX)
    async with remote.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await pilot.pause()
        assert not isinstance(remote.screen, BacktestScreen)
