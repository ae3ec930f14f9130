"""The console shows a CRITICAL alert as a notification that stays until dismissed, on a
real engine trading on a real sandbox."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from engine_on_sandbox import engine_on_sandbox
from textual.notifications import Notification
from textual.pilot import Pilot
from textual.widgets._toast import Toast

from kraken_tui.domain import Mode
from kraken_tui.ui.app import CRITICAL_ALERT_TIMEOUT_S, KrakenTuiApp


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 15
    while not condition():
        assert time.monotonic() < deadline, f"no {what} in 15 s"
        await pilot.pause(0.05)


async def test_a_fired_kill_switch_stays_on_screen_until_clicked_away(tmp_path: Path) -> None:
    async with engine_on_sandbox(tmp_path) as running:
        app = KrakenTuiApp(running.engine, mode=Mode.SANDBOX)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await running.engine.kill_switch("drawdown too deep")

            def kill_notes() -> list[Notification]:
                return [n for n in app._notifications if n.title.startswith("Kill switch")]

            await until(pilot, lambda: bool(kill_notes()), "notification")
            [note] = kill_notes()
            assert note.title.startswith("Kill switch fired: drawdown too deep")
            assert "Trading HALTED" in note.message
            assert note.severity == "error" and note.timeout == CRITICAL_ALERT_TIMEOUT_S

            def toasts() -> list[Toast]:
                return [t for t in app.screen.query(Toast) if t._notification is note]

            await until(pilot, lambda: bool(toasts()), "toast")
            await pilot.pause(1.0)
            assert kill_notes() == [note], "a later poll must not repeat it or drop it"
            await pilot.click(toasts()[0])
            await until(pilot, lambda: not kill_notes(), "dismissal")
