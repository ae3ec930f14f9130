"""Choose which symbol the ladder and chart follow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class SymbolPicker(ModalScreen[str | None]):
    DEFAULT_CSS = """
    SymbolPicker {
        align: center middle;
    }
    SymbolPicker > Vertical {
        width: 40;
        height: auto;
        max-height: 80%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    SymbolPicker OptionList {
        height: auto;
        max-height: 20;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, symbols: Sequence[str], current: str | None) -> None:
        super().__init__()
        self._symbols = tuple(symbols)
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Switch symbol (enter selects, esc closes)")
            yield OptionList(*(Option(s, id=s) for s in self._symbols), id="symbols")

    def on_mount(self) -> None:
        options = self.query_one("#symbols", OptionList)
        if self._current in self._symbols:
            options.highlighted = self._symbols.index(self._current)
        options.focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
