"""Stored backtest runs: pick one, read its metrics, see its equity curve, keep its report.

The screen reads runs through anything shaped like the store's `backtests` repository
(`recent(limit)` and `get(run_id)`), so the app can hand it `store.backtests` and a test can
hand it the repository of a scratch database. Loading happens in a worker, so a large history
never blocks a frame; the chart is redrawn from the stored curve whenever the panel resizes.
`e` writes the selected run as a self-contained HTML report (`backtest.html_report`) into
`report_dir` and says where, so a run can be kept or sent without the console.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Protocol

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from kraken_tui.backtest.chart import labelled_chart
from kraken_tui.backtest.html_report import report_from_run, write_report
from kraken_tui.backtest.report import Metrics, metrics_rows
from kraken_tui.store import BacktestRun

RECENT_RUNS = 100
DEFAULT_REPORT_DIR = Path("reports")
"""Relative to the working directory, as `--out` and `--report` paths are."""


class BacktestRuns(Protocol):
    async def recent(self, limit: int = 50, strategy: str | None = None) -> list[BacktestRun]: ...

    async def get(self, run_id: int) -> BacktestRun | None: ...


class EquityChart(Static):
    """The stored equity curve as block columns, sized to the widget."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._curve: Sequence[float] = ()

    def show(self, curve: Sequence[float]) -> None:
        self._curve = curve
        self._draw()

    def on_resize(self, event: Resize) -> None:
        self._draw()

    def _draw(self) -> None:
        width, height = self.content_size.width, self.content_size.height
        if not self._curve or width < 10 or height < 1:
            self.update("no equity curve stored" if not self._curve else "")
            return
        self.update("\n".join(labelled_chart(self._curve, width, height)))


class BacktestScreen(Screen[None]):
    DEFAULT_CSS = """
    BacktestScreen #runs {
        width: 58;
        border: round $accent;
    }
    BacktestScreen #detail {
        width: 1fr;
    }
    BacktestScreen #metrics {
        height: auto;
        max-height: 24;
        border: round $accent;
    }
    BacktestScreen #equity {
        height: 1fr;
        min-height: 6;
        border: round $success;
        color: $success;
    }
    BacktestScreen #run-params {
        height: auto;
        color: $text-muted;
        padding: 0 1;
    }
    BacktestScreen #report-status {
        height: auto;
        padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("r", "reload", "Reload"),
        Binding("e", "export_report", "HTML report"),
    ]

    def __init__(
        self,
        runs: BacktestRuns,
        run_id: int | None = None,
        report_dir: Path = DEFAULT_REPORT_DIR,
    ) -> None:
        super().__init__()
        self._runs = runs
        self._report_dir = report_dir
        self._selected = run_id
        self._shown: int | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            runs: DataTable[str] = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            runs.border_title = "Backtest runs"
            yield runs
            with Vertical(id="detail"):
                metrics: DataTable[str] = DataTable(
                    id="metrics", show_header=False, cursor_type="none"
                )
                metrics.border_title = "Metrics"
                yield metrics
                chart = EquityChart(id="equity")
                chart.border_title = "Equity"
                yield chart
                yield Static("", id="run-params")
                yield Static("", id="report-status")
        yield Footer()

    def on_mount(self) -> None:
        runs = self.query_one("#runs", DataTable)
        runs.add_columns("#", "strategy", "symbol", "return", "Sharpe")
        self.query_one("#metrics", DataTable).add_columns("metric", "value")
        self.action_reload()

    def action_reload(self) -> None:
        self._load_runs()

    @work(exclusive=True, group="backtest-runs")
    async def _load_runs(self) -> None:
        runs = await self._runs.recent(RECENT_RUNS)
        table = self.query_one("#runs", DataTable)
        table.clear()
        for run in runs:
            metrics = run.metrics
            total = metrics.get("total_return")
            sharpe = metrics.get("sharpe")
            table.add_row(
                str(run.id),
                run.strategy,
                run.symbol,
                "n/a" if total is None else f"{total:+.2%}",
                "n/a" if sharpe is None else f"{sharpe:.2f}",
                key=str(run.id),
            )
        if not runs:
            self.query_one("#run-params", Static).update("no backtest runs stored yet")
            return
        ids = [run.id for run in runs]
        selected = self._selected if self._selected in ids else ids[0]
        table.move_cursor(row=ids.index(selected))
        self._show_run(selected)

    @on(DataTable.RowHighlighted, "#runs")
    def _run_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._show_run(int(event.row_key.value))

    def _show_run(self, run_id: int | None) -> None:
        if run_id is None or run_id == self._shown:
            return
        self._selected = run_id
        self._load_run(run_id)

    @work(exclusive=True, group="backtest-run")
    async def _load_run(self, run_id: int) -> None:
        run = await self._runs.get(run_id)
        if run is None:
            return
        self._shown = run_id
        quote = str(run.metrics.get("quote", ""))
        table = self.query_one("#metrics", DataTable)
        table.clear()
        try:
            rows = metrics_rows(Metrics.from_dict(run.metrics), quote)
        except (TypeError, ValueError) as error:  # a row written by another version
            rows = [("metrics", f"unreadable: {error}")]
        for label, value in rows:
            table.add_row(label, value)
        curve = run.metrics.get("equity_curve") or []
        self.query_one("#equity", EquityChart).show([float(v) for v in curve])
        params = json.dumps(run.params.get("params", {}), sort_keys=True)
        self.query_one("#run-params", Static).update(
            f"run #{run.id} · {run.strategy} {run.symbol} · {run.data_path} · params {params}"
        )

    def action_export_report(self) -> None:
        if self._shown is None:
            self.notify("No backtest run is selected.", severity="warning")
            return
        self._export_report(self._shown)

    @work(exclusive=True, group="backtest-report")
    async def _export_report(self, run_id: int) -> None:
        status = self.query_one("#report-status", Static)
        run = await self._runs.get(run_id)
        if run is None:
            status.update(f"run #{run_id} is no longer in the database")
            return
        path = self._report_dir / report_file_name(run.id or run_id, run.strategy, run.symbol)
        try:
            written = await asyncio.to_thread(write_report, report_from_run(run), path)
        except OSError as error:
            message = f"cannot write the report of run #{run_id} to {path}: {error}"
            status.update(message)
            self.notify(message, severity="error")
            return
        status.update(f"report of run #{run_id}: {written}")
        self.notify(f"Report of run #{run_id} written to {written}")


def report_file_name(run_id: int, strategy: str, symbol: str) -> str:
    """A file name that names the run and is safe on any file system."""
    label = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{strategy}-{symbol}").strip("-")
    return f"backtest-{run_id}-{label}.html"
