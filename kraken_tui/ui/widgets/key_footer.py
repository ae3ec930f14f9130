"""The footer of key bindings, cut down to the essential keys on narrow terminals.

Textual's footer lays every shown binding on one line; at 80 columns the main screen's keys do
not fit and the last ones (help, quit) fall off the edge. Below the main screen's compact width
this footer leaves out the keys that have a sibling on screen (P next to p, C next to c), are
named in their panel's border (a amend) or are rarely used, and the command palette hint; `?`
still lists every key, and every key still works.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import Footer

HIDDEN_WHEN_NARROW = frozenset({"toggle_all", "cancel_all", "switch_symbol", "amend_order"})
"""Actions whose keys the narrow footer leaves out (listed in the help screen)."""


class KeyFooter(Footer):
    narrow: reactive[bool] = reactive(False, recompose=True)

    def __init__(self) -> None:
        super().__init__(compact=True)

    def watch_narrow(self, narrow: bool) -> None:
        self.show_command_palette = not narrow

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            # Every key the footer yields carries its binding's action.
            if self.narrow and getattr(widget, "action", None) in HIDDEN_WHEN_NARROW:
                continue
            yield widget
