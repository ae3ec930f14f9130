"""The engine's log: fed in batches, filtered by level and by a search text, bounded in memory.

Lines arrive through `append` once per UI frame (never once per line). The panel keeps the last
`max_lines` lines so a change of filter can be re-applied to what is already there. The view only
follows new lines while its view is at the bottom, so scrolling back to read is never yanked.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
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


LEVEL_STYLES = {
    "TRACE": Style(color="#6e7681"),
    "DEBUG": Style(color="#6e7681"),
    "INFO": Style(color="#58a6ff"),
    "SUCCESS": Style(color="#3fb950"),
    "WARNING": Style(color="#e3b341", bold=True),
    "ERROR": Style(color="#f85149", bold=True),
    "CRITICAL": Style(color="#ffffff", bgcolor="#b62324", bold=True),
}
LEVEL_START, LEVEL_WIDTH = 9, 9
"""Where `format_line` puts the level: after "HH:MM:SS "."""

SOURCE_WIDTH = 10


def short_source(source: str) -> str:
    """The logger's last dotted component (`kraken_tui.engine.portfolio` -> `portfolio`): the
    full module path would take a third of an 80-column line."""
    return source.rpartition(".")[2]


def format_line(line: LogLine) -> str:
    return (
        f"{line.ts:%H:%M:%S} {line.level:<{LEVEL_WIDTH - 1}} "
        f"{short_source(line.source):<{SOURCE_WIDTH}} {line.message}"
    )


class LevelHighlighter(Highlighter):
    """Colours the level word of a formatted line. It reads the fixed column `format_line`
    writes the level in, so it costs one dictionary lookup per drawn line, not a regex."""

    def highlight(self, text: Text) -> None:
        level = text.plain[LEVEL_START : LEVEL_START + LEVEL_WIDTH].strip()
        style = LEVEL_STYLES.get(level)
        if style is not None:
            text.stylize(style, LEVEL_START, LEVEL_START + len(level))


class LogView(Log):
    """A `Log` that remembers whether the reader is following its end.

    Following stops only when the view scrolls *up* while it has a size (the reader moved
    away) and resumes when it reaches the end again. Sampling "is it at the end?" when lines
    arrive is not enough: the view also falls short of the end when a long line brings in the
    horizontal scrollbar, or when two batches arrive before a queued scroll has run."""

    def __init__(self, *, max_lines: int, id: str | None = None) -> None:
        super().__init__(max_lines=max_lines, highlight=True, id=id)
        self.highlighter = LevelHighlighter()
        self.following = True

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.size.height == 0:
            return
        if new_value >= self.max_scroll_y:
            self.following = True
        elif new_value < old_value:
            self.following = False


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

    def compose(self) -> ComposeResult:
        yield LogView(max_lines=self.max_lines, id="log-view")
        yield Input(
            placeholder="search the log (enter keeps it, esc clears)", compact=True, id="log-search"
        )

    def on_mount(self) -> None:
        self._update_title()

    @property
    def log_view(self) -> LogView:
        return self.query_one("#log-view", LogView)

    def append(self, lines: Iterable[LogLine]) -> None:
        batch = list(lines)
        if not batch:
            return
        self._lines.extend(batch)
        self.last_seq = batch[-1].seq
        shown = [format_line(line) for line in batch if self._matches(line)]
        if shown:
            self.log_view.write_lines(shown, scroll_end=False)
            self._keep_following()

    def on_show(self) -> None:
        self._keep_following()

    def on_resize(self) -> None:
        self._keep_following()

    def _keep_following(self) -> None:
        view = self.log_view
        if view.following:
            view.call_after_refresh(self._scroll_to_end)

    def _scroll_to_end(self) -> None:
        view = self.log_view
        if view.following:
            view.scroll_end(animate=False, immediate=True, x_axis=False)

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
        view.following = True
        self._keep_following()
        self._update_title()

    def watch_title_hint(self) -> None:
        self._update_title()

    def _update_title(self) -> None:
        title = f"Log ≥{self.min_level}"
        if self.search:
            title += f"  /{self.search}"
        self.border_title = title + self.title_hint
