"""The command palette lists every action a key does, by name, so nothing is reachable only by
remembering a key."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from kraken_tui.ui.screens.main_screen import MainScreen

ACTIONS = (
    ("Pause / resume selected strategy", "toggle_strategy", "p"),
    ("Pause / resume all strategies", "toggle_all", "P"),
    ("Kill switch: halt trading, cancel all orders", "kill_switch", "k"),
    ("Reset the kill switch", "reset_kill_switch", "k"),
    ("New order (order ticket)", "order_ticket", "o"),
    ("Amend selected order (price or volume)", "amend_order", "a"),
    ("Cancel selected order", "cancel_order", "c"),
    ("Cancel all orders", "cancel_all", "C"),
    ("Switch symbol", "switch_symbol", "s"),
    ("Next panel", "next_panel", "tab"),
    ("Previous panel", "previous_panel", "shift+tab"),
    ("Search the log", "search_log", "/"),
    ("Cycle log level", "cycle_log_level", "l"),
    ("Backtest runs (stored results)", "backtests", "b"),
    ("Help: keys", "help", "?"),
    ("Quit", "quit", "q"),
)


class TradingCommands(Provider):
    def _main_screen(self) -> MainScreen | None:
        for screen in reversed(self.app.screen_stack):
            if isinstance(screen, MainScreen):
                return screen
        return None

    @staticmethod
    def _available(screen: MainScreen) -> list[tuple[str, str, str]]:
        """Only what can be done now (no kill switch while HALTED, no reset while trading)."""
        return [entry for entry in ACTIONS if screen.check_action(entry[1], ())]

    async def discover(self) -> Hits:
        screen = self._main_screen()
        if screen is None:
            return
        for title, action, key in self._available(screen):
            yield DiscoveryHit(title, partial(screen.run_action, action), help=f"key: {key}")

    async def search(self, query: str) -> Hits:
        screen = self._main_screen()
        if screen is None:
            return
        matcher = self.matcher(query)
        for title, action, key in self._available(screen):
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(screen.run_action, action),
                    text=title,
                    help=f"key: {key}",
                )
