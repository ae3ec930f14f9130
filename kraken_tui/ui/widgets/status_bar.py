"""One line that says where the trader is: mode, feed, rate limits, risk state, equity,
drawdown and UTC time. In LIVE mode the whole bar turns red so it cannot be mistaken for the
sandbox, and a live run on a host other than Kraken's names that host beside the label at
every width; the bar repaints only when its text changes (once a second for the clock)."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widget import Widget

from kraken_tui.domain import ConnectionState, Mode, TradingState
from kraken_tui.engine.api import EngineSnapshot

MODE_STYLES = {
    Mode.SANDBOX: "bold #0d1117 on #58a6ff",
    Mode.PAPER: "bold #0d1117 on #d2a8ff",
    Mode.LIVE: "bold #ffffff on #b62324",
}
RISK_STYLES = {
    TradingState.ACTIVE: "#3fb950",
    TradingState.REDUCING: "bold #0d1117 on #e3b341",
    TradingState.HALTED: "bold #ffffff on #da3633",
}
CONNECTION_STYLES = {
    ConnectionState.CONNECTED: "#3fb950",
    ConnectionState.CONNECTING: "#e3b341",
    ConnectionState.DEGRADED: "#e3b341",
    ConnectionState.STALE: "bold #0d1117 on #e3b341",
    ConnectionState.RECONNECTING: "bold #0d1117 on #e3b341",
    ConnectionState.DISCONNECTED: "bold #ffffff on #da3633",
    ConnectionState.UNVERIFIED: "bold #ffffff on #da3633",
}
OVERRIDE_STYLE = "bold #0d1117 on #e3b341"
SEPARATOR = Text(" │ ", style="#6e7681")


def status_text(
    snapshot: EngineSnapshot | None,
    mode: Mode,
    now: datetime,
    *,
    compact: bool = False,
    risk_reason: bool = True,
    live_host_override: str | None = None,
) -> Text:
    """The bar's text; `compact` drops labels and cents so it fits 80 columns, `risk_reason`
    adds why trading is not ACTIVE, `live_host_override` is the non-Kraken host a live run
    trades on (the engine's snapshot says it once there is one, also through `attach`)."""
    shown_mode = snapshot.mode if snapshot is not None else mode
    if snapshot is not None:
        live_host_override = snapshot.live_host_override or live_host_override
    label = " ■ LIVE TRADING ■ " if shown_mode is Mode.LIVE else f" {shown_mode.value.upper()} "
    if compact and shown_mode is Mode.LIVE:
        label = " ■ LIVE ■ "
    parts: list[Text] = [Text(label, style=MODE_STYLES[shown_mode])]
    if live_host_override is not None:
        parts.append(Text(f" override host {live_host_override} ", style=OVERRIDE_STYLE))
    if snapshot is None:
        parts.append(Text(" waiting for engine…", style="#e3b341"))
    else:
        parts.append(Text(" "))
        conn = snapshot.connection
        if conn is None:
            parts.append(Text("● NO FEED", style=CONNECTION_STYLES[ConnectionState.DISCONNECTED]))
        else:
            latency = "" if conn.latency_ms is None else f" {conn.latency_ms:.0f}ms"
            state = conn.state.value.upper()
            if compact and conn.state is ConnectionState.CONNECTED:
                state = "OK"
            parts.append(Text(f"● {state}{latency}", style=CONNECTION_STYLES[conn.state]))
        limits = snapshot.rate_limits
        parts += [SEPARATOR, Text(f"REST {limits.rest_counter:.0f}/{limits.rest_max:.0f}")]
        risk = snapshot.risk
        parts += [
            SEPARATOR,
            Text("" if compact else "Risk "),
            Text(f" {risk.trading_state.value} ", style=RISK_STYLES[risk.trading_state]),
        ]
        if risk.trading_state is not TradingState.ACTIVE and risk.reason and risk_reason:
            parts.append(Text(f" {risk.reason[:40]}", style="#e3b341"))
        portfolio = snapshot.portfolio
        equity = (
            f"Eq {portfolio.equity:,.0f}"
            if compact
            else f"Eq {portfolio.equity:,.2f} {portfolio.quote_ccy}"
        )
        parts += [
            SEPARATOR,
            Text(equity),
            SEPARATOR,
            Text(
                f"DD {portfolio.drawdown_pct:.2f}%",
                style="#f85149" if portfolio.drawdown_pct > 0 else "",
            ),
        ]
        alerts = snapshot.alerts
        if alerts.failed or alerts.dropped:
            # An alert that never reached anyone is itself worth seeing on the screen.
            label = (
                f"⚠ {alerts.failed + alerts.dropped} alerts lost"
                if compact
                else f"⚠ alerts: {alerts.failed} failed, {alerts.dropped} dropped"
            )
            parts += [SEPARATOR, Text(label, style="bold #0d1117 on #e3b341")]
    parts += [
        SEPARATOR,
        Text(f"{now:%H:%M:%S}" if compact else f"{now:%H:%M:%S} UTC", style="bold"),
    ]
    return Text.assemble(*parts)


class StatusBar(Widget):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
    }
    StatusBar.-live {
        background: #5c1010;
    }
    """

    def __init__(
        self, mode: Mode, *, live_host_override: str | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._mode = mode
        self._override = live_host_override
        self._text = status_text(None, mode, datetime.min, live_host_override=live_host_override)

    def show(self, snapshot: EngineSnapshot | None, now: datetime) -> None:
        for compact, risk_reason in ((False, True), (False, False), (True, False)):
            text = status_text(
                snapshot,
                self._mode,
                now,
                compact=compact,
                risk_reason=risk_reason,
                live_host_override=self._override,
            )
            if text.cell_len <= self.size.width:
                break
        live = (snapshot.mode if snapshot is not None else self._mode) is Mode.LIVE
        self.set_class(live, "-live")
        if text != self._text:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return self._text

    @property
    def plain(self) -> str:
        return self._text.plain
