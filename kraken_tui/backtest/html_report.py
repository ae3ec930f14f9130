"""A backtest run as one self-contained HTML file: equity curve, drawdown, trades on price and
the metrics table, drawn as inline SVG with inline CSS.

The file is meant to be kept, mailed and opened years later without kraken-tui: it loads
nothing (a Content-Security-Policy forbids every fetch, so a stray reference would show as
missing rather than leak to the network) and runs no script.

A report comes from a finished run (`report_from_result`, everything at full resolution) or
from a run stored in SQLite (`report_from_run`, the stored thinned curve; prices and trades
only when the run was stored with `report_series`, which single runs are and sweep points
are not).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from kraken_tui import __version__
from kraken_tui.backtest.data import Bars
from kraken_tui.backtest.engine import BacktestResult
from kraken_tui.backtest.report import (
    Metrics,
    drawdown_series,
    metrics_rows,
)
from kraken_tui.backtest.round_trips import RoundTrip
from kraken_tui.backtest.svg_chart import Marker, Point, Segment, thinned, time_series_svg
from kraken_tui.backtest.trade_tape import TradeTape
from kraken_tui.store import BacktestRun

REPORT_KEY = "report"
"""Key of the prices and trades in a stored run's metrics JSON."""
STORED_PRICE_POINTS = 600
MAX_TRADES = 1000
"""Trades drawn and listed (the most recent); more would make the file slow to open."""


@dataclass(frozen=True, slots=True)
class ReportTrade:
    side: str
    entry_ts: datetime
    entry_price: float
    exit_ts: datetime | None
    """None for the trade still open at the end of the data."""
    exit_price: float | None
    qty: str
    pnl: float

    def as_json(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "entry_ts": self.entry_ts.isoformat(),
            "entry_price": self.entry_price,
            "exit_ts": None if self.exit_ts is None else self.exit_ts.isoformat(),
            "exit_price": self.exit_price,
            "qty": self.qty,
            "pnl": self.pnl,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ReportTrade:
        exit_ts = raw.get("exit_ts")
        exit_price = raw.get("exit_price")
        return cls(
            side=str(raw["side"]),
            entry_ts=datetime.fromisoformat(raw["entry_ts"]),
            entry_price=float(raw["entry_price"]),
            exit_ts=None if exit_ts is None else datetime.fromisoformat(exit_ts),
            exit_price=None if exit_price is None else float(exit_price),
            qty=str(raw["qty"]),
            pnl=float(raw["pnl"]),
        )


@dataclass(frozen=True, slots=True)
class BacktestReport:
    title: str
    quote: str
    metrics: list[tuple[str, str]]
    settings: list[tuple[str, str]]
    equity: list[Point]
    initial_equity: float
    prices: list[Point]
    trades: list[ReportTrade]
    total_trades: int
    """Trades in the run; `trades` holds at most `MAX_TRADES` of them."""
    notes: list[str] = field(default_factory=list)


# -- building ------------------------------------------------------------------------------


def report_from_result(
    result: BacktestResult, metrics: Metrics, market: Bars | TradeTape, data_label: str
) -> BacktestReport:
    """The report of a run just finished, with every bar and every trade it made."""
    equity = list(
        zip(result.equity["ts"].to_list(), result.equity["equity"].to_list(), strict=True)
    )
    trips = [*result.trips, *([result.open_trip] if result.open_trip is not None else [])]
    trades = [_trade(trip) for trip in trips]
    return BacktestReport(
        title=f"{result.config.strategy} on {result.instrument.symbol}",
        quote=result.instrument.quote,
        metrics=metrics_rows(metrics, result.instrument.quote),
        settings=_settings(data_label, result.config.describe(), result.params),
        equity=equity,
        initial_equity=result.initial_equity,
        prices=market_prices(market, result.start, result.end),
        trades=trades[-MAX_TRADES:],
        total_trades=len(trades),
    )


def report_series(result: BacktestResult, market: Bars | TradeTape) -> dict[str, Any]:
    """Prices (thinned) and trades (the most recent) to store with a run, JSON-safe, so its
    report can be written later from the database alone."""
    prices = thinned(market_prices(market, result.start, result.end), STORED_PRICE_POINTS)
    trips = [*result.trips, *([result.open_trip] if result.open_trip is not None else [])]
    return {
        "prices": [[ts.isoformat(), value] for ts, value in prices],
        "trades": [_trade(trip).as_json() for trip in trips[-MAX_TRADES:]],
        "total_trades": len(trips),
    }


def with_report_series(
    run: BacktestRun, result: BacktestResult, market: Bars | TradeTape
) -> BacktestRun:
    """`run` carrying its `report_series` for the database."""
    return replace(run, metrics={**run.metrics, REPORT_KEY: report_series(result, market)})


def report_from_run(run: BacktestRun) -> BacktestReport:
    """The report of a stored run, from what the database holds."""
    stored = run.metrics
    quote = str(stored.get("quote", ""))
    notes: list[str] = []
    try:
        metrics = Metrics.from_dict(stored)
        rows = metrics_rows(metrics, quote)
    except (TypeError, ValueError, KeyError) as error:  # a row written by another version
        metrics = None
        rows = [("metrics", f"unreadable: {error}")]
    curve = [float(v) for v in stored.get("equity_curve") or []]
    equity = _curve_times(curve, metrics, run.range_start)
    if metrics is not None and metrics.bars > len(curve):
        notes.append(
            f"The equity curve is the stored summary of {len(curve):,} points "
            f"over {metrics.bars:,} bars."
        )
    series = stored.get(REPORT_KEY)
    prices: list[Point] = []
    trades: list[ReportTrade] = []
    total_trades = 0
    if isinstance(series, Mapping):
        prices = [(datetime.fromisoformat(ts), float(v)) for ts, v in series.get("prices", [])]
        trades = [ReportTrade.from_json(raw) for raw in series.get("trades", [])]
        total_trades = int(series.get("total_trades", len(trades)))
    else:
        notes.append(
            "This run was stored without its prices and trades (a sweep point, or a run "
            "stored by an older version): rerun it with `kraken-tui backtest ... --report "
            "FILE.html` for the trades on price."
        )
    initial = metrics.initial_equity if metrics is not None else (curve[0] if curve else 0.0)
    return BacktestReport(
        title=f"{run.strategy} on {run.symbol} (run #{run.id})",
        quote=quote,
        metrics=rows,
        settings=_settings(run.data_path, run.params, run.params.get("params", {})),
        equity=equity,
        initial_equity=initial,
        prices=prices,
        trades=trades,
        total_trades=total_trades,
        notes=notes,
    )


def market_prices(
    market: Bars | TradeTape, start: datetime | None, end: datetime | None
) -> list[Point]:
    """Closing prices at each bar's close time (or each trade's price at its time) within
    the run's span."""
    frame = market.frame
    if isinstance(market, Bars):
        bar = timedelta(minutes=market.interval)
        points = [(ts + bar, close) for ts, close in zip(frame["ts"], frame["close"], strict=True)]
    else:
        points = list(zip(frame["ts"].to_list(), frame["price"].to_list(), strict=True))
    return [
        (ts, float(value))
        for ts, value in points
        if (start is None or ts > start) and (end is None or ts <= end)
    ]


def _trade(trip: RoundTrip) -> ReportTrade:
    return ReportTrade(
        side=trip.side,
        entry_ts=trip.entry_ts,
        entry_price=float(trip.entry_price),
        exit_ts=trip.exit_ts,
        exit_price=None if trip.exit_price is None else float(trip.exit_price),
        qty=str(trip.qty),
        pnl=float(trip.pnl),
    )


def _curve_times(
    curve: Sequence[float], metrics: Metrics | None, start: datetime | None
) -> list[Point]:
    """Times of the stored curve's points: `equity_curve_points` keeps the last bar of each
    of `len(curve)` equal stretches, so each point's bar index is known exactly."""
    if not curve or metrics is None or start is None:
        return []
    bars, step = metrics.bars, timedelta(minutes=metrics.interval)
    count = len(curve)
    if count >= bars:
        indexes = list(range(1, count + 1))
    else:
        indexes = [round(k * bars / count) for k in range(1, count + 1)]
    return [(start + step * index, value) for index, value in zip(indexes, curve, strict=True)]


def _settings(
    data_label: str, described: Mapping[str, Any], params: Mapping[str, Any]
) -> list[tuple[str, str]]:
    rows = [("data", data_label), ("parameters", json.dumps(params, sort_keys=True, default=str))]
    for key in ("cash", "fees", "fill", "risk"):
        if key in described:
            value = described[key]
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            rows.append((key, text))
    return rows


# -- rendering -----------------------------------------------------------------------------


def render_html(report: BacktestReport) -> str:
    """The whole document."""
    quote = report.quote
    equity_svg = time_series_svg(
        report.equity,
        height=300,
        css_class="equity",
        label=f"equity ({quote})",
        fmt=lambda v: f"{v:,.2f}",
        baseline=min((v for _, v in report.equity), default=0.0),
    )
    drawdowns = drawdown_series([v for _, v in report.equity], report.initial_equity)
    drawdown_points = [
        (ts, -float(d) * 100) for (ts, _), d in zip(report.equity, drawdowns, strict=True)
    ]
    drawdown_svg = time_series_svg(
        drawdown_points,
        height=180,
        css_class="drawdown",
        label="drawdown (%)",
        fmt=lambda v: f"{v:.2f}%",
        baseline=0.0,
    )
    sections = [
        _section(f"Equity ({escape(quote)})", equity_svg),
        _section("Drawdown (% below the running peak)", drawdown_svg),
    ]
    if report.prices:
        sections.append(_section(f"Trades on price ({escape(quote)})", _price_chart(report)))
    sections.append(_section("Metrics", _table(report.metrics, "metrics")))
    sections.append(_section("Settings", _table(report.settings, "settings")))
    if report.prices or report.trades:
        sections.append(_section("Trades", _trades_table(report)))
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in report.notes)
    title = escape(f"Backtest: {report.title}")
    return _PAGE.format(
        title=title,
        css=_CSS,
        version=escape(__version__),
        notes=notes,
        body="".join(sections),
    )


def write_report(report: BacktestReport, path: Path) -> Path:
    """Write the document to `path` (parents created), owner-only like every file holding
    account figures, replacing any older report only once the new one is complete."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(render_html(report))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path.resolve()


def _price_chart(report: BacktestReport) -> str:
    markers: list[Marker] = []
    segments: list[Segment] = []
    for trade in report.trades:
        long = trade.side == "long"
        markers.append(
            Marker(
                trade.entry_ts,
                trade.entry_price,
                "up" if long else "down",
                "entry-long" if long else "entry-short",
                f"{trade.side} entry {trade.entry_ts:%Y-%m-%d %H:%M} at {trade.entry_price:,.6g}"
                f" × {trade.qty}",
            )
        )
        if trade.exit_ts is None or trade.exit_price is None:
            continue
        outcome = "win" if trade.pnl > 0 else "loss"
        markers.append(
            Marker(
                trade.exit_ts,
                trade.exit_price,
                "dot",
                f"exit-{outcome}",
                f"{trade.side} exit {trade.exit_ts:%Y-%m-%d %H:%M} at {trade.exit_price:,.6g}, "
                f"PnL {trade.pnl:+,.2f} {report.quote}",
            )
        )
        segments.append(
            Segment(
                (trade.entry_ts, trade.entry_price),
                (trade.exit_ts, trade.exit_price),
                f"trip-{outcome}",
            )
        )
    chart = time_series_svg(
        report.prices,
        height=320,
        css_class="price",
        label=f"price ({report.quote})",
        fmt=lambda v: f"{v:,.6g}",
        markers=markers,
        segments=segments,
    )
    legend = (
        '<p class="legend"><span class="entry-long">▲</span> long entry '
        '<span class="entry-short">▼</span> short entry '
        '<span class="exit-win">●</span> exit with a profit '
        '<span class="exit-loss">●</span> exit with a loss</p>'
    )
    return chart + legend


def _section(heading: str, content: str) -> str:
    return f"<section><h2>{heading}</h2>{content}</section>"


def _table(rows: Sequence[tuple[str, str]], css_class: str) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="{css_class}">{body}</table>'


def _trades_table(report: BacktestReport) -> str:
    if not report.trades:
        return '<p class="note">The strategy made no trade.</p>'
    shown = ""
    if report.total_trades > len(report.trades):
        shown = (
            f'<p class="note">The last {len(report.trades):,} of {report.total_trades:,} '
            "trades are drawn and listed.</p>"
        )
    head = (
        "<tr><th>#</th><th>side</th><th>entry</th><th>entry price</th><th>exit</th>"
        f"<th>exit price</th><th>qty</th><th>PnL ({escape(report.quote)})</th></tr>"
    )
    first = report.total_trades - len(report.trades) + 1
    rows = []
    for number, trade in enumerate(report.trades, start=first):
        exit_ts = "open" if trade.exit_ts is None else f"{trade.exit_ts:%Y-%m-%d %H:%M}"
        exit_price = "" if trade.exit_price is None else f"{trade.exit_price:,.6g}"
        outcome = "win" if trade.pnl > 0 else "loss"
        rows.append(
            f"<tr><td>{number}</td><td>{escape(trade.side)}</td>"
            f"<td>{trade.entry_ts:%Y-%m-%d %H:%M}</td><td>{trade.entry_price:,.6g}</td>"
            f"<td>{exit_ts}</td><td>{exit_price}</td><td>{escape(trade.qty)}</td>"
            f'<td class="{outcome}">{trade.pnl:+,.2f}</td></tr>'
        )
    body = "".join(rows)
    return f'{shown}<table class="trades"><thead>{head}</thead><tbody>{body}</tbody></table>'


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1000px;
  color: #1b1f24; background: #fff; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 0.4rem; }
.sub, .note { color: #57606a; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 0.2rem 0.8rem; border-bottom: 1px solid #d0d7de; text-align: left; }
table.metrics td, table.trades td { text-align: right; }
table.trades th { position: sticky; top: 0; background: #f6f8fa; }
td.win { color: #1a7f37; } td.loss { color: #cf222e; }
svg.chart { display: block; background: #fbfcfd; border: 1px solid #d0d7de; }
svg .grid { stroke: #d0d7de; stroke-width: 1; }
svg .axis { font-size: 12px; fill: #57606a; }
svg .empty { font-size: 14px; fill: #57606a; }
svg .line { fill: none; stroke-width: 1.5; }
svg.equity .line { stroke: #1a7f37; } svg.equity .area { fill: #1a7f37; fill-opacity: 0.12; }
svg.drawdown .line { stroke: #cf222e; } svg.drawdown .area { fill: #cf222e; fill-opacity: 0.2; }
svg.price .line { stroke: #57606a; }
.entry-long { fill: #1a7f37; color: #1a7f37; } .entry-short { fill: #cf222e; color: #cf222e; }
.exit-win { fill: #0969da; color: #0969da; } .exit-loss { fill: #bc4c00; color: #bc4c00; }
svg .trip-win { stroke: #0969da; stroke-width: 1; stroke-dasharray: 3 2; }
svg .trip-loss { stroke: #bc4c00; stroke-width: 1; stroke-dasharray: 3 2; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="kraken-tui {version}">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<h1>{title}</h1>
<p class="sub">kraken-tui {version} backtest report. Times are UTC.</p>
{notes}
{body}
</body>
</html>
"""
