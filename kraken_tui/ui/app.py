"""The Textual application: one main screen over an `EngineApi`, whatever engine that is
(in-process, or remote over Redis)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App

from kraken_tui.domain import Mode
from kraken_tui.engine.api import AlertLevel, EngineApi
from kraken_tui.ui.commands import TradingCommands
from kraken_tui.ui.screens.main_screen import Clock, MainScreen, utc_now

if TYPE_CHECKING:
    from kraken_tui.ui.screens.backtest_screen import BacktestRuns


CRITICAL_ALERT_TIMEOUT_S = 7 * 24 * 3600.0
"""A CRITICAL alert stays on screen until clicked away (Textual toasts need a timeout)."""
ALERT_POLL_S = 0.5


class KrakenTuiApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "kraken-tui"
    COMMANDS = App.COMMANDS | {TradingCommands}

    def __init__(
        self,
        engine: EngineApi,
        *,
        mode: Mode,
        clock: Clock | None = None,
        refresh_hz: float = 15,
        backtests: BacktestRuns | None = None,
    ) -> None:
        """`clock` returns the UTC time shown in the status bar (fixed in snapshot tests);
        `refresh_hz` is how often the screen pulls an engine snapshot (10-20 is sensible);
        `backtests` is the local store of backtest runs (absent when attached remotely)."""
        super().__init__()
        if not 1 <= refresh_hz <= 60:
            raise ValueError(f"refresh_hz must be between 1 and 60, got {refresh_hz}")
        self.engine = engine
        self.mode = mode
        self.clock: Clock = clock or utc_now
        self.refresh_hz = refresh_hz
        self.sub_title = mode.value.upper()
        self.backtests = backtests
        self._alert_seq = 0

    def on_mount(self) -> None:
        self.set_interval(ALERT_POLL_S, self._notify_critical_alerts)
        self.push_screen(
            MainScreen(self.engine, mode=self.mode, clock=self.clock, refresh_hz=self.refresh_hz)
        )

    def _notify_critical_alerts(self) -> None:
        """CRITICAL alerts the engine raised since the last look (an attached console gets
        them through Redis, in the snapshot), each as a toast that stays until dismissed.
        A sequence number lower than the last one seen means a new engine run."""
        try:
            recent = self.engine.snapshot().alerts.recent
        except Exception:
            # An engine out of reach is the main screen's to report, once; an exception out
            # of this timer would end the whole console.
            return
        if recent and recent[-1].seq < self._alert_seq:
            self._alert_seq = 0
        for alert in recent:
            if alert.seq <= self._alert_seq:
                continue
            self._alert_seq = alert.seq
            if alert.level is AlertLevel.CRITICAL:
                self.notify(
                    alert.detail or alert.headline,
                    title=f"{alert.headline}  (click to dismiss)",
                    severity="error",
                    timeout=CRITICAL_ALERT_TIMEOUT_S,
                )

    def show_backtests(self) -> None:
        if self.backtests is None:
            self.notify(
                "Backtest runs are kept in the local database; this console has none "
                "(run kraken-tui on the machine that ran them).",
                severity="warning",
            )
            return
        from kraken_tui.ui.screens.backtest_screen import BacktestScreen

        self.push_screen(BacktestScreen(self.backtests))

    async def action_quit(self) -> None:
        """ctrl+q goes through the same check as q: in LIVE mode with open orders, ask first."""
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.action_quit()
                return
        self.exit()
