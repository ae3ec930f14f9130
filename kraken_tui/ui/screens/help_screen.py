"""Every key of the main screen with what it does. The list is the main screen's `KEY_HELP`
(not `HELP`, which Textual's own help panel renders as Markdown); a test checks it names every
bound key, so the help cannot drift from the bindings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

NOTES = (
    "Panels: ladder and chart follow the selected symbol (s). The strategy under the cursor is "
    "what p acts on; the order under the cursor is what c cancels. Narrow or short terminals "
    "show one table at a time: tab moves between them. Every action is also in the command "
    "palette (ctrl+p)."
)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 84;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-notes {
        margin-top: 1;
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss(None)", "Close")
    ]

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self._keys = tuple(keys)

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold #e3b341", no_wrap=True)
        table.add_column()
        for key, description in self._keys:
            table.add_row(key, description)
        with VerticalScroll():
            yield Static("[b]Keys[/b]  (esc closes)")
            yield Static(table, id="help-keys")
            yield Static(NOTES, id="help-notes")
