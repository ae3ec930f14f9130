"""A DataTable kept in step with a snapshot by row key, as dolphie does it.

When the set or order of keys is unchanged (the common case: a price or a PnL moved) only the
cells that differ get `update_cell`; when rows come or go the table is rebuilt and the cursor
stays on the same key, so a selection survives every refresh.

A `compact` table (beside the ladder in a small terminal) shows only `COMPACT_COLUMNS`, so
every column it shows fits whole instead of the last one being cut at the panel's edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

Cell = str | Text
Row = tuple[str, tuple[Cell, ...]]


class KeyedTable(DataTable[Cell]):
    COLUMNS: tuple[tuple[str, str], ...] = ()
    """(key, label) per column; the key names the column for `update_cell`."""
    COMPACT_COLUMNS: ClassVar[frozenset[str] | None] = None
    """Keys of the columns a compact table keeps (None: all of them)."""
    CURSOR_FOLLOWS_KEY: ClassVar[bool] = True
    """Keep the cursor on the same row key when rows come or go (a selection a key acts on).
    False keeps it at the same position instead: a feed listed newest first stays at the top
    rather than scrolling down after the row that was first."""

    compact: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []
        self._shown: list[int] = list(range(len(self.COLUMNS)))

    def on_mount(self) -> None:
        self._add_columns()

    def watch_compact(self, compact: bool) -> None:
        kept = self.COMPACT_COLUMNS if compact else None
        self._shown = [i for i, (key, _) in enumerate(self.COLUMNS) if kept is None or key in kept]
        if not self.is_mounted:
            return
        self.clear(columns=True)
        self._add_columns()
        self._rebuild([(key, self._cells[key]) for key in self._order])

    def _add_columns(self) -> None:
        for index in self._shown:
            key, label = self.COLUMNS[index]
            self.add_column(label, key=key)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, or None for an empty table."""
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def sync(self, rows: Sequence[Row]) -> None:
        keys = [key for key, _ in rows]
        if keys != self._order:
            self._rebuild(rows)
            return
        for key, cells in rows:
            old = self._cells[key]
            for column in self._shown:
                if old[column] != cells[column]:
                    column_key = self.COLUMNS[column][0]
                    self.update_cell(key, column_key, cells[column], update_width=True)
            self._cells[key] = cells

    def _rebuild(self, rows: Sequence[Row]) -> None:
        selected = self.selected_key
        cursor = self.cursor_row
        self.clear()
        for key, cells in rows:
            self.add_row(*(cells[i] for i in self._shown), key=key)
        self._cells = dict(rows)
        self._order = [key for key, _ in rows]
        if self.CURSOR_FOLLOWS_KEY and selected in self._cells:
            self.move_cursor(row=self._order.index(selected), animate=False)
        elif self._order:
            self.move_cursor(row=min(cursor, len(self._order) - 1), animate=False)
