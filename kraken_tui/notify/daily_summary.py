"""The daily summary: the last 24 hours of one engine in one alert (equity and its change,
fills, fees by currency, the alerts raised), sent at a configured UTC time of day."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from kraken_tui.alerts.alert import AlertKind
from kraken_tui.alerts.board import AlertBoard
from kraken_tui.domain import Side
from kraken_tui.engine.engine import TradingEngine

PERIOD = timedelta(days=1)


def next_summary_at(now: datetime, at: time) -> datetime:
    """The first moment after `now` whose UTC time of day is `at`."""
    now = now.astimezone(UTC)
    due = datetime.combine(now.date(), at, tzinfo=UTC)
    return due if due > now else due + PERIOD


async def daily_summary(
    engine: TradingEngine, board: AlertBoard, until: datetime
) -> tuple[str, str]:
    """Title and detail of the summary of the day ending at `until`."""
    since = until - PERIOD
    portfolio = engine.snapshot().portfolio
    ccy = portfolio.quote_ccy
    history = await engine.store.equity.since(since)
    start_equity = history[0].equity if history else None
    pnl = portfolio.equity - start_equity if start_equity is not None else portfolio.daily_pnl
    fills = await engine.store.executions.since(since)
    fees: dict[str, Decimal] = defaultdict(Decimal)
    for fill in fills:
        fees[fill.fee_ccy] += fill.fee
    buys = sum(1 for fill in fills if fill.side is Side.BUY)
    alerts = [a for a in board.since(since) if a.kind is not AlertKind.DAILY_SUMMARY]
    levels = Counter(alert.level.value for alert in alerts)
    title = (
        f"Daily summary {until:%Y-%m-%d %H:%M} UTC: equity {portfolio.equity:.2f} {ccy}, "
        f"PnL {pnl:+.2f} {ccy}"
    )
    lines = [
        f"Equity {portfolio.equity:.2f} {ccy}"
        + (f" (24 h ago {start_equity:.2f})" if start_equity is not None else "")
        + f", PnL {pnl:+.2f} {ccy}, drawdown {portfolio.drawdown_pct:.2f} %",
        f"Fills {len(fills)} ({buys} buys, {len(fills) - buys} sells), fees "
        + (", ".join(f"{fee} {c}" for c, fee in sorted(fees.items())) or "none"),
        f"Alerts {len(alerts)}"
        + (
            ": " + ", ".join(f"{n} {level}" for level, n in sorted(levels.items()))
            if alerts
            else ""
        )
        + (f"; latest: {alerts[-1].headline}" if alerts else ""),
    ]
    return title, "\n".join(lines)
