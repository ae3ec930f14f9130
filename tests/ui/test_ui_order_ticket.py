"""The order ticket sends the order on screen and nothing else: driven through Textual's Pilot
against the app as built for the other key tests, asserted on the commands the engine got."""

from __future__ import annotations

from static_engine import FIXED_NOW, StaticEngine
from textual.widgets import Input, Select

from kraken_tui.domain import Mode, Side
from kraken_tui.engine.api import EngineSnapshot
from kraken_tui.ui.app import ALERT_POLL_S, KrakenTuiApp
from kraken_tui.ui.screens.order_ticket import PREVIEW_DELAY, OrderTicket

SIZE = (120, 40)
PREVIEW_WAIT = PREVIEW_DELAY + 0.2


class UnreachableEngine(StaticEngine):
    """A remote engine whose snapshot cannot be fetched while `reachable` is off."""

    def __init__(self) -> None:
        super().__init__()
        self.reachable = True

    def snapshot(self) -> EngineSnapshot:
        if not self.reachable:
            raise ConnectionError("engine unreachable")
        return super().snapshot()


def make_app(engine: StaticEngine) -> KrakenTuiApp:
    return KrakenTuiApp(engine, mode=Mode.SANDBOX, clock=lambda: FIXED_NOW)


def rendered(app: KrakenTuiApp, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def test_a_number_too_large_to_check_is_an_error_and_the_earlier_order_is_not_sent() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", *"0.01")
        await pilot.pause(PREVIEW_WAIT)
        assert "Risk: allowed" in rendered(app, "#ticket-risk")
        app.screen.query_one("#ticket-volume", Input).value = "1e30"
        await pilot.pause()
        assert "volume '1e30' is too large" in rendered(app, "#ticket-errors")
        assert rendered(app, "#ticket-risk") == ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, OrderTicket)
        assert engine.commands == []


async def test_a_failed_check_clears_the_previous_one_and_sending_checks_the_form_again() -> None:
    engine = UnreachableEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", *"0.01")
        await pilot.pause(PREVIEW_WAIT)
        assert "Risk: allowed" in rendered(app, "#ticket-risk")
        engine.reachable = False
        await pilot.press("5")
        await pilot.pause()
        assert rendered(app, "#ticket-errors") == (
            "✗ cannot check the order: ConnectionError: engine unreachable"
        )
        assert rendered(app, "#ticket-risk") == ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, OrderTicket)
        assert engine.commands == []
        engine.reachable = True
        await pilot.press("ctrl+s")
        for _ in range(50):  # sending re-checks the form first: wait for it, however slow
            if engine.commands:
                break
            await pilot.pause(0.1)
        assert engine.commands == ["submit:BTC/USD:buy:0.015"]


async def test_sending_sends_the_fields_as_they_read_at_that_moment() -> None:
    engine = StaticEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", *"0.01")
        await pilot.pause(PREVIEW_WAIT)
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        with ticket.prevent(Input.Changed, Select.Changed):
            ticket.query_one("#ticket-side", Select).value = Side.SELL
            ticket.query_one("#ticket-volume", Input).value = "0.02"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert engine.commands == ["submit:BTC/USD:sell:0.02"]


async def test_the_console_outlives_an_engine_it_cannot_reach() -> None:
    """Every timer that reads the engine meets the failure (the alert poll among them): the
    console keeps running and works again once the engine answers."""
    engine = UnreachableEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        engine.reachable = False
        await pilot.pause(3 * ALERT_POLL_S)
        assert app.is_running
        engine.reachable = True
        await pilot.press("o", *"0.01")
        await pilot.pause(PREVIEW_WAIT)
        assert "Risk: allowed" in rendered(app, "#ticket-risk")
