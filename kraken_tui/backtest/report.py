"""What a backtest run is worth: metrics, terminal charts, CSV/Parquet exports, SQLite storage.

Conventions, so that runs compare: returns are simple returns of equity marked at each bar's
close, starting from the initial cash; annualization assumes a market open 365 days × 24 h
(crypto), so a 1-minute bar is 1/525,600 of a year; Sharpe and Sortino use a zero risk-free
rate, Sortino's downside deviation is the root mean square of the negative returns over all
bars. Drawdowns are fractions below the running peak. A drawdown's duration runs from the
peak to the first bar back at that peak (or to the end, if it never got back).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kraken_tui.backtest.chart import labelled_chart
from kraken_tui.backtest.clock import MINUTES_PER_YEAR
from kraken_tui.backtest.engine import BacktestResult
from kraken_tui.backtest.round_trips import RoundTrip
from kraken_tui.store import BacktestRun, Store

CURVE_POINTS = 400
"""Equity points stored with a run: enough for a full-width chart, small enough for a row."""
ExportFormat = Literal["csv", "parquet"]


@dataclass(frozen=True, slots=True)
class Drawdown:
    depth: float
    """Largest fall below the running peak, as a fraction (0.25 = 25 %)."""
    duration_bars: int
    """Bars from the peak before the deepest fall to the recovery (or the end)."""
    longest_bars: int
    """Bars of the longest peak-to-recovery stretch, whatever its depth."""


@dataclass(frozen=True, slots=True)
class Metrics:
    start: datetime | None
    end: datetime | None
    bars: int
    interval: int
    initial_equity: float
    final_equity: float
    total_return: float
    annualized_return: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    max_drawdown_duration: timedelta
    longest_drawdown: timedelta
    trade_count: int
    """Closed round trips; a trade still open at the end is reported apart."""
    open_trade_pnl: float | None
    win_rate: float | None
    profit_factor: float | None
    """Gross profit over gross loss; infinite when no trade lost, None without trades."""
    exposure: float
    """Share of bars that closed with a position."""
    fees_paid: Decimal
    orders_sent: int
    orders_amended: int
    orders_rejected: int
    risk_denials: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe values (SQLite's json_valid refuses Infinity): durations in seconds,
        times in ISO-8601, an infinite profit factor as the string "inf"."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, timedelta):
                out[key] = value.total_seconds()
            elif isinstance(value, datetime):
                out[key] = value.isoformat()
            elif isinstance(value, Decimal):
                out[key] = str(value)
            elif isinstance(value, float) and not math.isfinite(value):
                out[key] = "inf" if value > 0 else None
            else:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> Metrics:
        """The inverse of `as_dict` (extra keys, such as a stored equity curve, are ignored)."""
        values: dict[str, Any] = {}
        for name, kind in _FIELD_KINDS.items():
            raw = stored.get(name, _MEASURED_LATER.get(name))
            if raw is None or kind is None:
                values[name] = raw
            elif kind is timedelta:
                values[name] = timedelta(seconds=float(raw))
            elif kind is datetime:
                values[name] = datetime.fromisoformat(raw)
            elif kind is Decimal:
                values[name] = Decimal(raw)
            else:
                values[name] = math.inf if raw == "inf" else float(raw)
        return cls(**values)


_FIELD_KINDS: dict[str, type | None] = {
    "start": datetime,
    "end": datetime,
    "bars": None,
    "interval": None,
    "initial_equity": float,
    "final_equity": float,
    "total_return": float,
    "annualized_return": float,
    "sharpe": float,
    "sortino": float,
    "max_drawdown": float,
    "max_drawdown_duration": timedelta,
    "longest_drawdown": timedelta,
    "trade_count": None,
    "open_trade_pnl": float,
    "win_rate": float,
    "profit_factor": float,
    "exposure": float,
    "fees_paid": Decimal,
    "orders_sent": None,
    "orders_amended": None,
    "orders_rejected": None,
    "risk_denials": None,
}
"""How each stored metric turns back into its type (None: stored as is)."""
_MEASURED_LATER: dict[str, int] = {"orders_amended": 0}
"""Metrics added after runs were first stored: those runs read back as having none."""


# -- the numbers ------------------------------------------------------------------------------


def equity_returns(equity: Sequence[float] | np.ndarray, initial: float) -> np.ndarray:
    """Simple return of each bar, the first measured from `initial`."""
    values = np.concatenate(([initial], np.asarray(equity, dtype=np.float64)))
    return np.diff(values) / values[:-1]


def sharpe_ratio(returns: np.ndarray, periods_per_year: float) -> float | None:
    if returns.size < 2:
        return None
    deviation = float(np.std(returns, ddof=1))
    if deviation == 0:
        return None
    return float(np.mean(returns)) / deviation * math.sqrt(periods_per_year)


def sortino_ratio(returns: np.ndarray, periods_per_year: float) -> float | None:
    if returns.size < 2:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    if downside == 0:
        return None
    return float(np.mean(returns)) / downside * math.sqrt(periods_per_year)


def drawdown_series(equity: Sequence[float] | np.ndarray, initial: float) -> np.ndarray:
    """Fraction below the running peak at each bar (the initial equity counts as a peak)."""
    values = np.asarray(equity, dtype=np.float64)
    peaks = np.maximum.accumulate(np.concatenate(([initial], values)))[1:]
    return 1.0 - values / peaks


def drawdown(equity: Sequence[float] | np.ndarray, initial: float) -> Drawdown:
    values = np.concatenate(([initial], np.asarray(equity, dtype=np.float64)))
    deepest = 0.0
    deepest_span = 0
    longest = 0
    peak_index = 0
    peak_value = values[0]
    episode_depth = 0.0
    for index in range(1, values.size):
        value = values[index]
        if value >= peak_value:
            span = index - peak_index
            if episode_depth > 0:
                longest = max(longest, span)
                if episode_depth > deepest:
                    deepest, deepest_span = episode_depth, span
            peak_index, peak_value, episode_depth = index, value, 0.0
        else:
            episode_depth = max(episode_depth, 1.0 - value / peak_value)
    if episode_depth > 0:
        span = values.size - 1 - peak_index
        longest = max(longest, span)
        if episode_depth > deepest:
            deepest, deepest_span = episode_depth, span
    return Drawdown(deepest, deepest_span, longest)


def profit_factor(pnls: Sequence[Decimal]) -> float | None:
    if not pnls:
        return None
    gains = sum((p for p in pnls if p > 0), Decimal(0))
    losses = -sum((p for p in pnls if p < 0), Decimal(0))
    if losses == 0:
        return math.inf if gains > 0 else None
    return float(gains / losses)


def win_rate(pnls: Sequence[Decimal]) -> float | None:
    if not pnls:
        return None
    return sum(1 for p in pnls if p > 0) / len(pnls)


def annualized_return(total_return: float, years: float) -> float | None:
    if years <= 0 or total_return <= -1:
        return None
    return (1.0 + total_return) ** (1.0 / years) - 1.0


def compute_metrics(result: BacktestResult) -> Metrics:
    equity = result.equity["equity"].to_numpy()
    initial = result.initial_equity
    returns = equity_returns(equity, initial)
    periods_per_year = MINUTES_PER_YEAR / result.interval
    final = float(equity[-1]) if equity.size else initial
    total = final / initial - 1.0
    start, end = result.start, result.end
    years = (end - start).total_seconds() / (365 * 86_400) if start and end else 0.0
    falls = drawdown(equity, initial)
    bar = timedelta(minutes=result.interval)
    pnls = [trip.pnl for trip in result.trips]
    return Metrics(
        start=start,
        end=end,
        bars=result.bars,
        interval=result.interval,
        initial_equity=initial,
        final_equity=final,
        total_return=total,
        annualized_return=annualized_return(total, years),
        sharpe=sharpe_ratio(returns, periods_per_year),
        sortino=sortino_ratio(returns, periods_per_year),
        max_drawdown=falls.depth,
        max_drawdown_duration=bar * falls.duration_bars,
        longest_drawdown=bar * falls.longest_bars,
        trade_count=len(result.trips),
        open_trade_pnl=None if result.open_trip is None else float(result.open_trip.pnl),
        win_rate=win_rate(pnls),
        profit_factor=profit_factor(pnls),
        exposure=result.exposure_bars / result.bars if result.bars else 0.0,
        fees_paid=result.fees_paid,
        orders_sent=result.orders_sent,
        orders_amended=result.orders_amended,
        orders_rejected=result.orders_rejected,
        risk_denials=result.risk_denials,
    )


# -- the terminal -----------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2%}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "∞" if math.isinf(value) else f"{value:.2f}"


def metrics_rows(metrics: Metrics, quote: str) -> list[tuple[str, str]]:
    """(label, value) pairs in reading order; shared by the CLI report and the UI screen."""
    rows = [
        ("period", f"{metrics.start:%Y-%m-%d %H:%M} → {metrics.end:%Y-%m-%d %H:%M} UTC")
        if metrics.start and metrics.end
        else ("period", "n/a"),
        ("bars", f"{metrics.bars:,} × {metrics.interval} min"),
        ("initial equity", f"{metrics.initial_equity:,.2f} {quote}"),
        ("final equity", f"{metrics.final_equity:,.2f} {quote}"),
        ("total return", _pct(metrics.total_return)),
        ("annualized return", _pct(metrics.annualized_return)),
        ("Sharpe", _ratio(metrics.sharpe)),
        ("Sortino", _ratio(metrics.sortino)),
        ("max drawdown", f"{-metrics.max_drawdown:.2%}"),
        ("max drawdown duration", str(metrics.max_drawdown_duration)),
        ("longest drawdown", str(metrics.longest_drawdown)),
        ("trades", f"{metrics.trade_count:,}"),
        ("win rate", "n/a" if metrics.win_rate is None else f"{metrics.win_rate:.1%}"),
        ("profit factor", _ratio(metrics.profit_factor)),
        ("exposure", f"{metrics.exposure:.1%}"),
        ("fees paid", f"{metrics.fees_paid:,.2f} {quote}"),
        (
            "orders",
            f"{metrics.orders_sent:,} sent, {metrics.orders_amended:,} amended, "
            f"{metrics.orders_rejected:,} rejected",
        ),
        ("risk denials", f"{metrics.risk_denials:,}"),
    ]
    if metrics.open_trade_pnl is not None:
        rows.insert(12, ("open trade at end", f"{metrics.open_trade_pnl:+,.2f} {quote}"))
    return rows


def render_report(
    result: BacktestResult, metrics: Metrics, *, width: int = 100, chart_height: int = 8
) -> RenderableType:
    quote = result.instrument.quote
    title = f"{result.config.strategy} on {result.instrument.symbol}"
    table = Table(title=title, show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    for label, value in metrics_rows(metrics, quote):
        table.add_row(label, value)
    equity = result.equity["equity"].to_list()
    drawdowns = (drawdown_series(equity, result.initial_equity) * -100 + 0.0).tolist()
    inner = max(20, width - 4)
    equity_chart = "\n".join(labelled_chart(equity, inner, chart_height))
    drawdown_chart = "\n".join(
        labelled_chart(drawdowns, inner, max(3, chart_height // 2), fmt=".2f", aggregate=min)
    )
    return Group(
        table,
        Panel(Text(equity_chart, style="green"), title=f"equity ({quote})", width=width),
        Panel(Text(drawdown_chart, style="red"), title="drawdown (%)", width=width),
    )


# -- files ------------------------------------------------------------------------------------


def equity_frame(result: BacktestResult) -> pl.DataFrame:
    equity = result.equity
    return equity.with_columns(
        pl.Series("drawdown", drawdown_series(equity["equity"].to_numpy(), result.initial_equity))
    )


def trips_frame(trips: Sequence[RoundTrip]) -> pl.DataFrame:
    """Money columns stay Decimal (polars Decimal), so CSV and Parquet hold exact digits."""
    return pl.DataFrame(
        {
            "entry_ts": [t.entry_ts for t in trips],
            "exit_ts": [t.exit_ts for t in trips],
            "side": [t.side for t in trips],
            "qty": pl.Series([t.qty for t in trips], dtype=pl.Decimal(38, 10)),
            "entry_price": pl.Series([t.entry_price for t in trips], dtype=pl.Decimal(38, 10)),
            "exit_price": pl.Series([t.exit_price for t in trips], dtype=pl.Decimal(38, 10)),
            "pnl": pl.Series([t.pnl for t in trips], dtype=pl.Decimal(38, 10)),
            "fees": pl.Series([t.fees for t in trips], dtype=pl.Decimal(38, 10)),
            "fills": pl.Series([t.fills for t in trips], dtype=pl.Int64),
        },
        schema_overrides={
            "entry_ts": pl.Datetime("us", "UTC"),
            "exit_ts": pl.Datetime("us", "UTC"),
            "side": pl.String,
        },
    )


def fills_frame(result: BacktestResult) -> pl.DataFrame:
    fills = result.fills
    return pl.DataFrame(
        {
            "ts": [f.ts for f in fills],
            "exec_id": [f.exec_id for f in fills],
            "cl_ord_id": [f.cl_ord_id for f in fills],
            "side": [str(f.side) for f in fills],
            "price": pl.Series([f.price for f in fills], dtype=pl.Decimal(38, 10)),
            "qty": pl.Series([f.qty for f in fills], dtype=pl.Decimal(38, 10)),
            "fee": pl.Series([f.fee for f in fills], dtype=pl.Decimal(38, 10)),
            "liquidity": [str(f.liquidity) for f in fills],
        },
        schema_overrides={
            "ts": pl.Datetime("us", "UTC"),
            "exec_id": pl.String,
            "cl_ord_id": pl.String,
            "side": pl.String,
            "liquidity": pl.String,
        },
    )


def export_run(result: BacktestResult, directory: Path, fmt: ExportFormat = "csv") -> list[Path]:
    """Write equity (with drawdown), round trips and fills; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    frames = {
        "equity": equity_frame(result),
        "trades": trips_frame(result.trips),
        "fills": fills_frame(result),
    }
    for name, frame in frames.items():
        path = directory / f"{name}.{fmt}"
        if fmt == "csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path)
        written.append(path)
    return written


# -- the database -----------------------------------------------------------------------------


def equity_curve_points(result: BacktestResult, points: int = CURVE_POINTS) -> list[float]:
    """The equity curve thinned to `points` values (last of each stretch) for storage."""
    values = result.equity["equity"].to_list()
    if len(values) <= points:
        return values
    edges = [round(k * len(values) / points) for k in range(1, points + 1)]
    return [values[edge - 1] for edge in edges]


def backtest_run(result: BacktestResult, metrics: Metrics, data_path: str) -> BacktestRun:
    stored = metrics.as_dict()
    stored["equity_curve"] = equity_curve_points(result)
    stored["quote"] = result.instrument.quote
    params = result.config.describe()
    params["params"] = result.params
    return BacktestRun(
        created_at=datetime.now(UTC),
        strategy=result.config.strategy,
        symbol=result.instrument.symbol,
        data_path=data_path,
        params=params,
        metrics=stored,
        range_start=result.start,
        range_end=result.end,
    )


async def store_runs(db_path: Path, runs: Sequence[BacktestRun]) -> list[int]:
    """Insert runs into the database at `db_path` (migrated on open); returns their ids."""
    store = await Store.open(db_path)
    try:
        return [await store.backtests.insert(run) for run in runs]
    finally:
        await store.close()
