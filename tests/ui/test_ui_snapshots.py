"""Layout snapshots of the console on the fixture market: fixed clock, seeded data, no live
feed, no cursor blink. Behaviour is tested in test_ui_keys.py; these catch layout regressions.
Update with `pytest tests/ui/test_ui_snapshots.py --snapshot-update` after reading the diff."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from static_engine import FIXED_NOW, StaticEngine
from textual.pilot import Pilot
from textual.widgets import Input, Select

from kraken_tui.domain import ConnectionState, Mode, OrderType, TradingState
from kraken_tui.exchange.protocol import ConnectionStatus
from kraken_tui.ui.app import KrakenTuiApp
from kraken_tui.ui.screens.order_ticket import PREVIEW_DELAY, SIZE_IN_QUOTE

SnapCompare = Callable[..., bool]


def make_app(engine: StaticEngine | None = None, mode: Mode = Mode.SANDBOX) -> KrakenTuiApp:
    return KrakenTuiApp(engine or StaticEngine(mode), mode=mode, clock=lambda: FIXED_NOW)


def pressing(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press(*keys)
        await pilot.pause(PREVIEW_DELAY + 0.2)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    return run_before


class TestMainScreen:
    def test_main_screen_at_120x40(self, snap_compare: SnapCompare) -> None:
        assert snap_compare(make_app(), terminal_size=(120, 40))

    def test_main_screen_at_80x24_shows_the_ladder_beside_the_current_table(
        self, snap_compare: SnapCompare
    ) -> None:
        assert snap_compare(make_app(), terminal_size=(80, 24))

    def test_at_80x24_tab_puts_the_open_orders_beside_the_ladder_with_whole_columns(
        self, snap_compare: SnapCompare
    ) -> None:
        assert snap_compare(make_app(), terminal_size=(80, 24), run_before=pressing("tab", "tab"))

    def test_main_screen_at_200x60(self, snap_compare: SnapCompare) -> None:
        assert snap_compare(make_app(), terminal_size=(200, 60))

    def test_paused_strategy_after_p(self, snap_compare: SnapCompare) -> None:
        assert snap_compare(make_app(), terminal_size=(120, 40), run_before=pressing("p"))

    def test_halted_state(self, snap_compare: SnapCompare) -> None:
        engine = StaticEngine()
        engine.set_trading_state(TradingState.HALTED, "kill switch: manual")
        assert snap_compare(make_app(engine), terminal_size=(120, 40))

    def test_live_mode_status_bar(self, snap_compare: SnapCompare) -> None:
        assert snap_compare(make_app(mode=Mode.LIVE), terminal_size=(120, 40))

    def test_lost_connection_in_status_bar_and_ladder(self, snap_compare: SnapCompare) -> None:
        engine = StaticEngine()
        engine.set_connection(ConnectionStatus(ConnectionState.RECONNECTING, "socket closed"))
        assert snap_compare(make_app(engine), terminal_size=(120, 40))


class TestModals:
    def test_help_screen(self, snap_compare: SnapCompare) -> None:
        assert snap_compare(make_app(), terminal_size=(120, 40), run_before=pressing("?"))

    def test_order_ticket_with_a_validation_error(self, snap_compare: SnapCompare) -> None:
        assert snap_compare(
            make_app(), terminal_size=(120, 40), run_before=pressing("o", *"0.00001")
        )

    def test_order_ticket_with_a_risk_denial(self, snap_compare: SnapCompare) -> None:
        assert snap_compare(make_app(), terminal_size=(120, 40), run_before=pressing("o", *"0.5"))

    def test_order_ticket_spending_a_quote_amount_at_80x24(self, snap_compare: SnapCompare) -> None:
        async def spend_50_usd(pilot: Pilot[None]) -> None:
            await pilot.press("o")
            pilot.app.screen.query_one("#ticket-type", Select).value = OrderType.MARKET
            await pilot.pause()
            pilot.app.screen.query_one("#ticket-size-in", Select).value = SIZE_IN_QUOTE
            await pressing(*"50")(pilot)

        assert snap_compare(make_app(), terminal_size=(80, 24), run_before=spend_50_usd)

    def test_amend_ticket_with_a_new_price(self, snap_compare: SnapCompare) -> None:
        async def amend(pilot: Pilot[None]) -> None:
            await pilot.press("tab", "tab", "a")
            pilot.app.screen.query_one("#amend-price", Input).value = ""
            await pressing(*"64180.0")(pilot)

        assert snap_compare(make_app(), terminal_size=(120, 40), run_before=amend)

    def test_kill_switch_confirmation(self, snap_compare: SnapCompare) -> None:
        assert snap_compare(make_app(), terminal_size=(120, 40), run_before=pressing("k"))
