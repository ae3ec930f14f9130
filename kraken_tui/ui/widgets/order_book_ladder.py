"""The order book ladder: asks over bids with cumulative depth bars, spread and mid.

A Line-API widget: every row is cached as a `Strip` together with the values it was drawn from,
and a new book repaints only the rows whose values differ. In a busy market most rows keep their
price and size between frames, so only a handful of lines reach the compositor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from kraken_tui.domain import BookLevel, BookSnapshot, ConnectionState, Instrument, Order, Side
from kraken_tui.exchange.protocol import ConnectionStatus
from kraken_tui.ui.errors import guarded
from kraken_tui.ui.formatting import fmt_price, fmt_qty

ASK = Style(color="#f85149")
BID = Style(color="#3fb950")
ASK_BAR = Style(bgcolor="#4a1d1d")
BID_BAR = Style(bgcolor="#17391f")
OWN = Style(color="#e3b341", bold=True)
HEADER = Style(color="#8b949e", bold=True)
MID = Style(color="#e6edf3", bold=True)
WARN = Style(color="#0d1117", bgcolor="#e3b341", bold=True)
DIM = Style(dim=True)


@dataclass(frozen=True, slots=True)
class _Columns:
    """Widths of the price, size and cumulative size; whatever width is left draws the bar."""

    price: int
    size: int
    total: int

    @property
    def numbers(self) -> int:
        """Own-order marker, the three numbers and the spaces between them."""
        return 1 + self.price + 1 + self.size + 1 + self.total


WIDE = _Columns(price=11, size=9, total=9)
NARROW = _Columns(price=9, size=7, total=8)
"""Beside a table in a small terminal: room for a BTC price (64,250.5), a size to four
decimals under 1,000 and a total under 10,000, with a short depth bar."""
MIN_BAR = 8


@dataclass(frozen=True, slots=True)
class _Row:
    """What one ladder line shows; equal rows are not redrawn."""

    kind: str
    price: Decimal | None = None
    size: Decimal | None = None
    total: Decimal | None = None
    bar: int = 0
    own: bool = False
    stale: bool = False
    note: str = ""


class OrderBookLadder(Widget):
    DEFAULT_CSS = """
    OrderBookLadder {
        height: 1fr;
    }
    OrderBookLadder.-stale {
        border-subtitle-color: $warning;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._book: BookSnapshot | None = None
        self._instrument: Instrument | None = None
        self._connection: ConnectionStatus | None = None
        self._own_prices: frozenset[tuple[Side, Decimal]] = frozenset()
        self._rows: list[_Row] = []
        self._strips: list[Strip] = []
        self._drawn_width = 0

    @property
    def book(self) -> BookSnapshot | None:
        return self._book

    def show(
        self,
        book: BookSnapshot | None,
        instrument: Instrument | None,
        connection: ConnectionStatus | None,
        open_orders: Sequence[Order],
    ) -> None:
        """Take the latest book and repaint the rows that changed."""
        self._book = book
        self._instrument = instrument
        self._connection = connection
        symbol = instrument.symbol if instrument else None
        self._own_prices = frozenset(
            (o.side, o.price) for o in open_orders if o.symbol == symbol and o.price is not None
        )
        self.border_title = f"Book {symbol or ''}".strip()
        warning = self._warning()
        self.border_subtitle = warning or ""
        self.set_class(warning is not None, "-stale")
        self._rebuild()

    @guarded
    def on_resize(self) -> None:
        self._rows = []
        self._rebuild()

    def render_line(self, y: int) -> Strip:
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width)

    def _warning(self) -> str | None:
        if self._connection is not None and self._connection.state is not ConnectionState.CONNECTED:
            return f"FEED {self._connection.state.value.upper()}"
        if self._book is not None and self._book.stale:
            return "STALE - resyncing"
        return None

    def _layout(self) -> list[_Row]:
        height = self.size.height
        if height <= 0:
            return []
        rows = [_Row("header")]
        depth = max(0, (height - 2) // 2)
        book = self._book
        if book is None:
            rows.append(_Row("note", note="waiting for book..."))
            return rows
        bar_width = max(0, self.size.width - self._columns().numbers - 1)
        asks = self._cumulate(book.asks[:depth])
        bids = self._cumulate(book.bids[:depth])
        deepest = max([t for _, _, t in asks[-1:] + bids[-1:]], default=Decimal(0))

        def bar(total: Decimal) -> int:
            return 0 if deepest <= 0 else int(total / deepest * bar_width)

        stale = self._warning() is not None
        padding = depth - len(asks)
        rows.extend(_Row("blank") for _ in range(padding))
        for price, size, total in reversed(asks):
            own = (Side.SELL, price) in self._own_prices
            rows.append(_Row("ask", price, size, total, bar(total), own, stale))
        warning = self._warning()
        if warning is not None:
            rows.append(_Row("warning", note=warning))
        else:
            rows.append(_Row("mid", book.mid, book.spread))
        for price, size, total in bids:
            own = (Side.BUY, price) in self._own_prices
            rows.append(_Row("bid", price, size, total, bar(total), own, stale))
        return rows[:height]

    @staticmethod
    def _cumulate(levels: Sequence[BookLevel]) -> list[tuple[Decimal, Decimal, Decimal]]:
        total = Decimal(0)
        out = []
        for level in levels:
            total += level.qty
            out.append((level.price, level.qty, total))
        return out

    def _rebuild(self) -> None:
        width = self.size.width
        rows = self._layout()
        if width != self._drawn_width or len(rows) != len(self._rows):
            self._rows = rows
            self._strips = [self._draw(row, width) for row in rows]
            self._drawn_width = width
            self.refresh()
            return
        for y, row in enumerate(rows):
            if row != self._rows[y]:
                self._strips[y] = self._draw(row, width)
                self.refresh(Region(0, y, width, 1))
        self._rows = rows

    def _columns(self) -> _Columns:
        return WIDE if self.size.width >= WIDE.numbers + 1 + MIN_BAR else NARROW

    def _draw(self, row: _Row, width: int) -> Strip:
        decimals = self._instrument.price_decimals if self._instrument else 2
        cols = self._columns()
        segments: list[Segment]
        if row.kind == "header":
            text = f" {'Price':>{cols.price}} {'Size':>{cols.size}} {'Total':>{cols.total}}"
            segments = [Segment(text, HEADER)]
        elif row.kind in ("ask", "bid"):
            is_ask = row.kind == "ask"
            side_style = ASK if is_ask else BID
            if row.stale:
                side_style = side_style + DIM
            assert row.size is not None and row.total is not None
            segments = [
                Segment("◆" if row.own else " ", OWN),
                Segment(f"{fmt_price(row.price, decimals):>{cols.price}}", side_style),
                Segment(f" {_fit(row.size, cols.size)} {_fit(row.total, cols.total)} "),
            ]
            bar_room = max(0, width - cols.numbers - 1)
            segments.append(Segment(" " * row.bar, ASK_BAR if is_ask else BID_BAR))
            segments.append(Segment(" " * (bar_room - row.bar)))
        elif row.kind == "mid":
            spread = fmt_price(row.size, decimals)
            text = f" mid {fmt_price(row.price, decimals + 1)}  spread {spread}"
            segments = [Segment(text, MID)]
        elif row.kind in ("warning", "note"):
            style = WARN if row.kind == "warning" else HEADER
            segments = [Segment(f" {row.note} ".center(width), style)]
        else:
            segments = []
        return Strip(segments).adjust_cell_length(width).crop(0, width)


def _fit(qty: Decimal, width: int) -> str:
    """`qty` right-aligned in `width`, with fewer decimals when four do not fit: a large size
    loses precision rather than pushing the next column off the edge mid-number."""
    for decimals in (4, 2, 0):
        text = fmt_qty(qty, decimals)
        if len(text) <= width:
            break
    return f"{text:>{width}}"
