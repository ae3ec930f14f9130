"""Textual's own help panel (command palette → "Keys") over the main screen.

Textual renders a widget's `HELP` class attribute as Markdown in that panel; the main screen
once kept its key list (a tuple) under that name, and opening the panel ended the app.
"""

from __future__ import annotations

from static_engine import FIXED_NOW, StaticEngine
from textual.widgets import HelpPanel, Markdown

from kraken_tui.domain import Mode
from kraken_tui.ui.app import KrakenTuiApp


async def test_textual_keys_panel_opens_over_the_main_screen_and_the_app_keeps_running() -> None:
    app = KrakenTuiApp(StaticEngine(), mode=Mode.SANDBOX, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p", *"keys")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)
        panel = app.screen.query_one(HelpPanel)
        assert panel.query_one(Markdown) is not None
        assert app.is_running
