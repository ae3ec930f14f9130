"""Grouping of repeated alerts on virtual time: at most one per interval, with a count."""

from __future__ import annotations

from kraken_tui.alerts.alert import Alert, AlertKind, AlertLevel
from kraken_tui.alerts.board import AlertBoard
from kraken_tui.clock import VirtualClock


def board_with_listener(clock: VirtualClock) -> tuple[AlertBoard, list[Alert]]:
    board = AlertBoard(clock, repeat_interval_s=300)
    sent: list[Alert] = []
    board.on_alert(sent.append)
    return board, sent


def test_repeats_within_the_interval_go_out_once_then_as_one_alert_with_their_count() -> None:
    clock = VirtualClock()
    board, sent = board_with_listener(clock)
    for n in range(4):
        board.raise_alert(AlertLevel.ERROR, AlertKind.STRATEGY_ERROR, f"boom {n}", subject="s1")
        clock.advance(10)
    board.flush_repeats()
    assert [(a.title, a.count) for a in sent] == [("boom 0", 1)]
    clock.advance(300)
    board.flush_repeats()
    assert [(a.title, a.count) for a in sent] == [("boom 0", 1), ("boom 3", 3)]
    assert sent[1].headline == "boom 3 (x3)" and sent[1].first_ts is not None
    assert board.snapshot.raised == 2 and board.snapshot.grouped == 3


def test_different_subjects_are_not_grouped_together() -> None:
    clock = VirtualClock()
    board, sent = board_with_listener(clock)
    board.raise_alert(AlertLevel.ERROR, AlertKind.STRATEGY_ERROR, "a failed", subject="a")
    board.raise_alert(AlertLevel.ERROR, AlertKind.STRATEGY_ERROR, "b failed", subject="b")
    assert [a.title for a in sent] == ["a failed", "b failed"]


def test_an_alert_after_a_quiet_interval_goes_out_at_once() -> None:
    clock = VirtualClock()
    board, sent = board_with_listener(clock)
    board.raise_alert(AlertLevel.CRITICAL, AlertKind.KILL_SWITCH, "fired")
    clock.advance(301)
    board.flush_repeats()
    board.raise_alert(AlertLevel.CRITICAL, AlertKind.KILL_SWITCH, "fired again")
    assert [(a.title, a.count) for a in sent] == [("fired", 1), ("fired again", 1)]


def test_snapshot_keeps_recent_alerts_and_delivery_counters() -> None:
    board = AlertBoard(VirtualClock(), repeat_interval_s=0)
    for n in range(60):
        board.raise_alert(AlertLevel.WARNING, AlertKind.RECONCILIATION, f"n{n}")
    board.record_delivery(delivered=2, failed=1, dropped=3)
    snap = board.snapshot
    assert len(snap.recent) == 50 and snap.recent[-1].title == "n59"
    assert [a.seq for a in snap.recent] == list(range(11, 61))
    assert (snap.delivered, snap.failed, snap.dropped) == (2, 1, 3)
