"""Report tables that never cut a header or a number, whatever the terminal's width.

Rich shrinks a table wider than the terminal by truncating its cells, which turns a fold
table at 80 columns into `t…` and `b…`. Reports therefore print short headers with a legend
when the table fits, and otherwise one block per row with every field named in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

_WIDE = 10_000
"""Width offered when measuring a table's natural width, so that nothing wraps."""


@dataclass(frozen=True, slots=True)
class Column:
    short: str
    """Header shown in the table."""
    meaning: str
    """What the column holds, for the legend and for the per-row blocks."""
    numeric: bool = True


def fitted_table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    record_name: str = "row",
) -> RenderableType:
    """The rows as a table with a legend if that fits in `width` cells, else as blocks."""
    table = _table(columns, rows)
    if natural_width(table) > width:
        return _blocks(title, columns, rows, record_name)
    parts: list[RenderableType] = [Text(title, style="bold"), table]
    legend = [f"{c.short}: {c.meaning}" for c in columns if c.short != c.meaning]
    if legend:
        parts.append(Text(" · ".join(legend), style="dim"))
    return Group(*parts)


def natural_width(renderable: RenderableType) -> int:
    """Cells the renderable takes when nothing constrains it."""
    console = Console(width=_WIDE)
    return Measurement.get(console, console.options, renderable).maximum


def _table(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    for column in columns:
        table.add_column(column.short, justify="right" if column.numeric else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def _blocks(
    title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], record_name: str
) -> RenderableType:
    label_width = max(len(c.meaning) for c in columns)
    parts: list[RenderableType] = [Text(title, style="bold")]
    for number, row in enumerate(rows, start=1):
        parts.append(Text(f"{record_name} {number}", style="bold"))
        for column, value in zip(columns, row, strict=True):
            parts.append(Text(f"  {column.meaning:<{label_width}}  {value}"))
    return Group(*parts)
