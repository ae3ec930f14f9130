"""The engine's log: fed in batches, filtered by level and by a search text, bounded in memory.

Lines arrive through `append` once per UI frame (never once per line). The panel keeps the last
`max_lines` lines so a change of filter can be re-applied to what is already there. `Log` only
follows new lines while its view is at the bottom, so scrolling back to read is never yanked.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input, Log

from kraken_tui.engine.api import LogLine

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
"""The filter steps `l` cycles through."""

LEVEL_RANK = {"TRACE": 0, "DEBUG": 0, "INFO": 1, "SUCCESS": 1, "WARNING": 2, "ERROR": 3}
"""loguru's levels placed on those steps; anything unknown (CRITICAL) ranks as ERROR."""


def format_line(line: LogLine) -> str:
    return f"{line.ts:%H:%M:%S} {line.level:<7} {line.source:<9} {line.message}"


class LogPanel(Vertical):
    title_hint: reactive[str] = reactive("")
    """Appended to the title; the compact layout puts the tab position here."""

    DEFAULT_CSS = """
    LogPanel > Log {
        height: 1fr;
        overflow: auto auto;
        background: $background;
    }
    LogPanel > Input {
        display: none;
    }
    LogPanel.-searching > Input {
        display: block;
    }
    """

    def __init__(
        self, *, max_lines: int = 2000, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.max_lines = max_lines
        self._lines: deque[LogLine] = deque(maxlen=max_lines)
        self.last_seq = 0
        self.min_level = "DEBUG"
        self.search = ""
        self._following = True
        """Whether the view was at the bottom when last seen; survives hiding and resizing,
        which reset the scroll position of a view that has no size for a moment."""

    def compose(self) -> ComposeResult:
        yield Log(max_lines=self.max_lines, highlight=False, id="log-view")
        yield Input(
            placeholder="search the log (enter keeps it, esc clears)", compact=True, id="log-search"
        )

    def on_mount(self) -> None:
        self._update_title()

    @property
    def log_view(self) -> Log:
        return self.query_one("#log-view", Log)

    def append(self, lines: Iterable[LogLine]) -> None:
        batch = list(lines)
        if not batch:
            return
        self._lines.extend(batch)
        self.last_seq = batch[-1].seq
        shown = [format_line(line) for line in batch if self._matches(line)]
        if shown:
            view = self.log_view
            if view.size.height > 0:
                self._following = view.is_vertical_scroll_end
            view.write_lines(shown, scroll_end=False)
            self._keep_following()

    def on_show(self) -> None:
        self._keep_following()

    def on_resize(self) -> None:
        self._keep_following()

    def _keep_following(self) -> None:
        if self._following:
            view = self.log_view
            view.call_after_refresh(view.scroll_end, animate=False, immediate=True)

    def visible_lines(self) -> list[str]:
        """The lines currently shown, after level filter and search."""
        return [format_line(line) for line in self._lines if self._matches(line)]

    def cycle_level(self) -> str:
        """Raise the minimum level shown by one step, wrapping from ERROR back to DEBUG."""
        self.min_level = LEVELS[(LEVELS.index(self.min_level) + 1) % len(LEVELS)]
        self._refilter()
        return self.min_level

    def start_search(self) -> None:
        self.add_class("-searching")
        search = self.query_one("#log-search", Input)
        search.value = self.search
        # Apply the style now so the field is displayed, hence focusable, when it is focused.
        self.app.stylesheet.update_nodes([search], animate=False)
        self.screen.set_focus(search)

    def set_search(self, text: str) -> None:
        self.search = text
        self._refilter()

    @on(Input.Changed, "#log-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.set_search(event.value)

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value:
            self.remove_class("-searching")
        self.log_view.focus()

    def key_escape(self) -> None:
        if self.has_class("-searching"):
            self.remove_class("-searching")
            self.set_search("")
            self.log_view.focus()

    def _matches(self, line: LogLine) -> bool:
        rank = LEVEL_RANK.get(line.level.upper(), len(LEVELS) - 1)
        if rank < LEVELS.index(self.min_level):
            return False
        return not self.search or self.search.lower() in format_line(line).lower()

    def _refilter(self) -> None:
        view = self.log_view
        view.clear()
        view.write_lines(self.visible_lines(), scroll_end=False)
        self._following = True
        self._keep_following()
        self._update_title()

    def watch_title_hint(self) -> None:
        self._update_title()

    def _update_title(self) -> None:
        title = f"Log ≥{self.min_level}"
        if self.search:
            title += f"  /{self.search}"
        self.border_title = title + self.title_hint
