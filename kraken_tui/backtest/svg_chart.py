"""Time-series charts as inline SVG text, so a saved report draws without any script or
network: the browser renders the markup as it is, offline, years later.

Series are thinned to at most `MAX_POINTS` vertices per path (a row of pixels cannot show
more), keeping each stretch's lowest and highest value so spikes and the deepest drawdown
stay visible. Every chart carries its value axis (top, middle, bottom) and its time span.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

MAX_POINTS = 1200
"""Vertices per path: about two per horizontal pixel of the widest chart."""
WIDTH = 960
LEFT_AXIS = 90
RIGHT_PAD = 12
TOP_PAD = 12
BOTTOM_AXIS = 26

Point = tuple[datetime, float]
Formatter = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class Marker:
    """A point drawn over a chart: a trade's entry or exit."""

    ts: datetime
    value: float
    shape: str
    """'up' or 'down' (a triangle pointing that way) or 'dot'."""
    css_class: str
    title: str
    """Shown by the browser on hover."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A straight line between two points over a chart: a round trip from entry to exit."""

    start: Point
    end: Point
    css_class: str


def thinned(points: Sequence[Point], limit: int = MAX_POINTS) -> list[Point]:
    """`points` reduced to at most `limit`, keeping each stretch's low and high in time order."""
    if len(points) <= limit:
        return list(points)
    stretches = max(1, limit // 2)
    edges = [round(k * len(points) / stretches) for k in range(stretches + 1)]
    kept: list[Point] = []
    for first, last in itertools.pairwise(edges):
        stretch = points[first:last]
        if not stretch:
            continue
        low = min(stretch, key=lambda p: p[1])
        high = max(stretch, key=lambda p: p[1])
        kept.extend(sorted({low, high}, key=lambda p: p[0]))
    return kept


def time_series_svg(
    points: Sequence[Point],
    *,
    height: int,
    css_class: str,
    label: str,
    fmt: Formatter,
    baseline: float | None = None,
    markers: Sequence[Marker] = (),
    segments: Sequence[Segment] = (),
) -> str:
    """One chart: the series as a path (filled down to `baseline` when given), its axes, and
    any markers and segments; an empty series draws a chart saying so."""
    finite = [p for p in points if math.isfinite(p[1])]
    plot_h = height - TOP_PAD - BOTTOM_AXIS
    plot_w = WIDTH - LEFT_AXIS - RIGHT_PAD
    head = (
        f'<svg class="chart {css_class}" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        'xmlns="http://www.w3.org/2000/svg">'
    )
    if not finite:
        return (
            f'{head}<text class="empty" x="{WIDTH / 2}" y="{height / 2}" text-anchor="middle">'
            f"no data for {escape(label)}</text></svg>"
        )
    values = [v for _, v in finite] + [m.value for m in markers]
    if baseline is not None:
        values.append(baseline)
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1.0, high + 1.0
    t0, t1 = finite[0][0].timestamp(), finite[-1][0].timestamp()
    span = (t1 - t0) or 1.0

    def x(ts: datetime) -> float:
        return LEFT_AXIS + (ts.timestamp() - t0) / span * plot_w

    def y(value: float) -> float:
        return TOP_PAD + (high - value) / (high - low) * plot_h

    parts = [head, f"<title>{escape(label)}</title>"]
    for value in (high, (high + low) / 2, low):
        parts.append(
            f'<line class="grid" x1="{LEFT_AXIS}" x2="{WIDTH - RIGHT_PAD}" '
            f'y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
            f'<text class="axis" x="{LEFT_AXIS - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{escape(fmt(value))}</text>'
        )
    bottom = height - 8
    parts.append(
        f'<text class="axis" x="{LEFT_AXIS}" y="{bottom}">{finite[0][0]:%Y-%m-%d %H:%M}</text>'
        f'<text class="axis" x="{WIDTH - RIGHT_PAD}" y="{bottom}" text-anchor="end">'
        f"{finite[-1][0]:%Y-%m-%d %H:%M} UTC</text>"
    )
    drawn = thinned(finite)
    line = " ".join(f"{x(ts):.1f},{y(v):.1f}" for ts, v in drawn)
    if baseline is not None:
        base = y(baseline)
        area = f"M{x(drawn[0][0]):.1f},{base:.1f} L{line} L{x(drawn[-1][0]):.1f},{base:.1f} Z"
        parts.append(f'<path class="area" d="{area}"/>')
    parts.append(f'<path class="line" d="M{line}"/>')
    for segment in segments:
        (a_ts, a_v), (b_ts, b_v) = segment.start, segment.end
        parts.append(
            f'<line class="{segment.css_class}" x1="{x(a_ts):.1f}" y1="{y(a_v):.1f}" '
            f'x2="{x(b_ts):.1f}" y2="{y(b_v):.1f}"/>'
        )
    for marker in markers:
        parts.append(_marker(marker, x(marker.ts), y(marker.value)))
    parts.append("</svg>")
    return "".join(parts)


def _marker(marker: Marker, cx: float, cy: float) -> str:
    title = f"<title>{escape(marker.title)}</title>"
    if marker.shape == "dot":
        circle = f'cx="{cx:.1f}" cy="{cy:.1f}" r="4"'
        return f'<circle class="{marker.css_class}" {circle}>{title}</circle>'
    tip = -7 if marker.shape == "up" else 7
    points = f"{cx:.1f},{cy:.1f} {cx - 5:.1f},{cy - tip:.1f} {cx + 5:.1f},{cy - tip:.1f}"
    return f'<polygon class="{marker.css_class}" points="{points}">{title}</polygon>'
