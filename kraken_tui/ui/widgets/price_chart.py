"""Candlestick chart of the selected symbol, with a price axis on the right, a time axis below,
our resting orders as dashed lines and our fills as arrows on the candle they happened in.

The whole grid is recomputed only when the candles, orders or fills tuple is replaced (or the
widget is resized); between those events `render_line` returns cached strips.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from kraken_tui.domain import Candle, Execution, Instrument, Order, Side
from kraken_tui.ui.errors import guarded
from kraken_tui.ui.formatting import fmt_price

UP = Style(color="#3fb950")
DOWN = Style(color="#f85149")
AXIS = Style(color="#8b949e")
ORDER_LINE = Style(color="#e3b341")
BUY_FILL = Style(color="#58a6ff", bold=True)
SELL_FILL = Style(color="#d2a8ff", bold=True)
LAST = Style(color="#0d1117", bgcolor="#e6edf3", bold=True)

AXIS_W = 11
TIME_LABEL_EVERY = 15


class PriceChart(Widget):
    DEFAULT_CSS = """
    PriceChart {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._candles: tuple[Candle, ...] = ()
        self._instrument: Instrument | None = None
        self._orders: tuple[Order, ...] = ()
        self._fills: tuple[Execution, ...] = ()
        self._strips: list[Strip] = []

    def show(
        self,
        candles: tuple[Candle, ...],
        instrument: Instrument | None,
        open_orders: Sequence[Order],
        fills: Sequence[Execution],
    ) -> None:
        symbol = instrument.symbol if instrument else ""
        self._candles = candles
        self._instrument = instrument
        self._orders = tuple(o for o in open_orders if o.symbol == symbol and o.price is not None)
        self._fills = tuple(f for f in fills if f.symbol == symbol)
        interval = f"{candles[-1].interval}m" if candles else ""
        self.border_title = f"Chart {symbol} {interval}".strip()
        self._redraw()

    @guarded
    def on_resize(self) -> None:
        self._redraw()

    def render_line(self, y: int) -> Strip:
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width)

    def _redraw(self) -> None:
        self._strips = self._draw(self.size.width, self.size.height)
        self.refresh()

    def _draw(self, width: int, height: int) -> list[Strip]:
        plot_w = width - AXIS_W
        plot_h = height - 1
        if plot_w < 4 or plot_h < 3:
            return []
        if not self._candles:
            return [Strip([Segment("no candles yet".center(width), AXIS)])]
        candles = self._candles[-plot_w:]
        # The newest candle sits next to the price axis however few there are, as on any
        # trading chart; a short history leaves blank space on the left, not on the right.
        left = plot_w - len(candles)
        low = min(c.low for c in candles)
        high = max(c.high for c in candles)
        order_prices = [o.price for o in self._orders if o.price is not None]
        margin = (high - low) * Decimal("0.5")
        for price in order_prices:
            if low - margin <= price <= high + margin:
                low, high = min(low, price), max(high, price)
        if high == low:
            high, low = high + 1, low - 1
        step = (high - low) / (plot_h - 1)

        def row_of(price: Decimal) -> int:
            return int((high - price) / step + Decimal("0.5"))

        cells: list[list[tuple[str, Style | None]]] = [
            [(" ", None)] * plot_w for _ in range(plot_h)
        ]
        for order in self._orders:
            assert order.price is not None
            y = row_of(order.price)
            if 0 <= y < plot_h:
                cells[y] = [("╌", ORDER_LINE)] * plot_w
        for x, candle in enumerate(candles):
            style = UP if candle.close >= candle.open else DOWN
            top, bottom = (
                row_of(max(candle.open, candle.close)),
                row_of(min(candle.open, candle.close)),
            )
            for y in range(row_of(candle.high), row_of(candle.low) + 1):
                cells[y][left + x] = ("┃" if top <= y <= bottom else "│", style)
        self._mark_fills(cells, candles, left, row_of, plot_h)

        decimals = self._instrument.price_decimals if self._instrument else 2
        labels: dict[int, tuple[str, Style]] = {}
        for y in range(0, plot_h, 4):
            labels[y] = (fmt_price(high - step * y, decimals), AXIS)
        for order in self._orders:
            assert order.price is not None
            y = row_of(order.price)
            if 0 <= y < plot_h:
                marker = "B" if order.side is Side.BUY else "S"
                labels[y] = (f"{marker}{fmt_price(order.price, decimals)}", ORDER_LINE)
        last_y = row_of(candles[-1].close)
        labels[last_y] = (fmt_price(candles[-1].close, decimals), LAST)

        strips = []
        for y in range(plot_h):
            segments = [Segment(ch, style) for ch, style in cells[y]]
            text, style = labels.get(y, ("", AXIS))
            segments.append(Segment(" "))
            segments.append(Segment(f"{text:<{AXIS_W - 1}}"[: AXIS_W - 1], style))
            strips.append(Strip(segments, width))
        strips.append(self._time_axis(candles, left, plot_w, width))
        return strips

    def _mark_fills(
        self,
        cells: list[list[tuple[str, Style | None]]],
        candles: Sequence[Candle],
        left: int,
        row_of: Callable[[Decimal], int],
        plot_h: int,
    ) -> None:
        for fill in self._fills:
            for x, candle in enumerate(candles):
                if candle.ts <= fill.ts < candle.ts + timedelta(minutes=candle.interval):
                    y = row_of(fill.price)
                    if 0 <= y < plot_h:
                        buy = fill.side is Side.BUY
                        cells[y][left + x] = (
                            "▲" if buy else "▼",
                            BUY_FILL if buy else SELL_FILL,
                        )
                    break

    @staticmethod
    def _time_axis(candles: Sequence[Candle], left: int, plot_w: int, width: int) -> Strip:
        """Labels every `TIME_LABEL_EVERY` candles counted back from the newest, so the
        labels stay put as new candles arrive on the right."""
        axis = [" "] * plot_w
        for x in range(len(candles) - 1, -1, -TIME_LABEL_EVERY):
            label = candles[x].ts.strftime("%H:%M")
            start = min(left + x, plot_w - len(label))
            if start >= 0 and axis[start : start + len(label)] == [" "] * len(label):
                axis[start : start + len(label)] = label
        return Strip([Segment("".join(axis), AXIS)], plot_w).adjust_cell_length(width)
