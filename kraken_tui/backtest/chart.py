"""Column charts from unicode eighth blocks, for terminals without any plotting library.

One character cell holds eight vertical steps (▁ … █), so a chart `height` rows tall resolves
`8 × height` levels. Long series are bucketed to the chart's width by an aggregate chosen per
series: the last value for equity (where it ended up), the maximum for drawdown (the worst
moment must stay visible).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

EIGHTHS = " ▁▂▃▄▅▆▇█"

Aggregate = Callable[[Sequence[float]], float]


def last(values: Sequence[float]) -> float:
    return values[-1]


def bucketed(values: Sequence[float], width: int, aggregate: Aggregate = last) -> list[float]:
    """`values` reduced to at most `width` points, each aggregating a run of neighbours."""
    if width < 1:
        raise ValueError(f"width must be positive, got {width}")
    count = len(values)
    if count <= width:
        return list(values)
    edges = [round(k * count / width) for k in range(width + 1)]
    return [aggregate(values[edges[k] : edges[k + 1]]) for k in range(width)]


def column_chart(
    values: Sequence[float], width: int, height: int, aggregate: Aggregate = last
) -> list[str]:
    """Rows of the chart, top row first; the lowest value gets a sliver so it stays visible."""
    if height < 1:
        raise ValueError(f"height must be positive, got {height}")
    points = [v for v in bucketed(values, width, aggregate) if math.isfinite(v)]
    if not points:
        return [""] * height
    low, high = min(points), max(points)
    span = high - low
    levels = height * 8
    heights = [
        levels if span == 0 else 1 + round((point - low) / span * (levels - 1)) for point in points
    ]
    rows = []
    for row in range(height - 1, -1, -1):
        floor = row * 8
        rows.append("".join(EIGHTHS[max(0, min(8, h - floor))] for h in heights))
    return rows


def labelled_chart(
    values: Sequence[float],
    width: int,
    height: int,
    *,
    fmt: str = ",.2f",
    aggregate: Aggregate = last,
) -> list[str]:
    """`column_chart` with the top and bottom values written on a left axis."""
    points = [v for v in values if math.isfinite(v)]
    if not points:
        return []
    top, bottom = format(max(points), fmt), format(min(points), fmt)
    pad = max(len(top), len(bottom))
    rows = column_chart(values, max(1, width - pad - 3), height, aggregate)
    labelled = []
    for index, row in enumerate(rows):
        label = top if index == 0 else bottom if index == len(rows) - 1 else ""
        labelled.append(f"{label:>{pad}} ┤ {row}")
    return labelled
