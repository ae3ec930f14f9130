"""Apprise delivery to a real HTTP receiver on loopback: what arrives, retries after a
refusal or a hang, and drops when a destination's queue is full."""

from __future__ import annotations

import queue
import socket
from datetime import UTC, datetime

from alert_receiver import alert_receiver

from kraken_tui.alerts.alert import Alert, AlertKind, AlertLevel
from kraken_tui.alerts.url_check import apprise_problem
from kraken_tui.notify.delivery import DeliveryPolicy, DeliveryResult, Destination

FAST = DeliveryPolicy(timeout_s=0.5, retries=3, retry_backoff_s=0.05, queue_size=10)


def an_alert(
    title: str = "Kill switch fired: manual", level: AlertLevel = AlertLevel.CRITICAL
) -> Alert:
    return Alert(
        seq=1,
        ts=datetime(2026, 5, 1, 3, 0, tzinfo=UTC),
        level=level,
        kind=AlertKind.KILL_SWITCH,
        title=title,
        detail="Trading HALTED: 3 orders cancelled, 2 strategies paused.",
    )


def ignore(_result: DeliveryResult) -> None:
    return None


def test_an_alert_arrives_with_its_title_numbers_and_severity() -> None:
    with alert_receiver() as receiver:
        result = Destination(receiver.url(), FAST, ignore).send(an_alert())
        [body] = receiver.wait_for(lambda got: len(got) == 1)
    assert result.ok and result.attempts == 1
    assert body["title"] == "Kill switch fired: manual"
    assert body["message"] == "Trading HALTED: 3 orders cancelled, 2 strategies paused."
    assert body["type"] == "failure"


def test_a_grouped_alert_carries_its_repeat_count_in_the_title() -> None:
    alert = an_alert()
    repeated = Alert(
        alert.seq, alert.ts, alert.level, alert.kind, alert.title, alert.detail, count=4
    )
    with alert_receiver() as receiver:
        Destination(receiver.url(), FAST, ignore).send(repeated)
        [body] = receiver.wait_for(lambda got: len(got) == 1)
    assert body["title"] == "Kill switch fired: manual (x4)"


def test_a_refusing_receiver_is_retried_until_it_takes_the_alert() -> None:
    with alert_receiver() as receiver:
        receiver.fail_next(2)
        result = Destination(receiver.url(), FAST, ignore).send(an_alert())
        receiver.wait_for(lambda got: len(got) == 1)
    assert result.ok and result.attempts == 3
    assert receiver.requests == 3


def test_a_hanging_receiver_times_out_and_the_retry_delivers() -> None:
    with alert_receiver() as receiver:
        receiver.hang_next(1)
        result = Destination(receiver.url(), FAST, ignore).send(an_alert())
        receiver.wait_for(lambda got: len(got) == 1)
    assert result.ok and result.attempts == 2


def test_a_closed_port_fails_after_every_retry_with_the_reason_and_no_secret() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"json://127.0.0.1:{port}/hooks/s3cretT0ken99"
    result = Destination(url, FAST, ignore).send(an_alert())
    assert not result.ok and result.attempts == FAST.retries + 1
    assert result.error
    assert "s3cretT0ken99" not in result.error and "s3cretT0ken99" not in result.destination
    assert result.destination == f"json://127.0.0.1:{port}/hooks/****"


def test_background_delivery_reports_each_outcome_from_its_thread() -> None:
    results: queue.Queue[DeliveryResult] = queue.Queue()
    with alert_receiver() as receiver:
        destination = Destination(receiver.url(), FAST, results.put)
        destination.start()
        assert destination.offer(an_alert("first"))
        assert destination.offer(an_alert("second"))
        receiver.wait_for(lambda got: len(got) == 2)
        outcomes = [results.get(timeout=5), results.get(timeout=5)]
        destination.close()
        assert destination.join(5)
    assert [r.alert.title for r in outcomes] == ["first", "second"]
    assert all(r.ok for r in outcomes)


def test_a_full_queue_refuses_new_alerts_instead_of_blocking() -> None:
    policy = DeliveryPolicy(timeout_s=5, retries=0, retry_backoff_s=0.05, queue_size=2)
    with alert_receiver() as receiver:
        receiver.hang_next(1)
        destination = Destination(receiver.url(), policy, ignore)
        destination.start()
        assert destination.offer(an_alert("held"))
        assert receiver.hanging.wait(5)
        offered = [destination.offer(an_alert(f"queued {n}")) for n in range(4)]
        receiver.release()
        receiver.wait_for(lambda got: len(got) == 2)
        destination.close()
        destination.join(5)
    assert offered == [True, True, False, False]
    assert receiver.titles() == ["queued 0", "queued 1"]


def test_apprise_names_what_is_wrong_with_a_url_without_quoting_it() -> None:
    assert apprise_problem("json://127.0.0.1:9/x") is None
    assert apprise_problem("not a url") == "not a URL (expected service://...)"
    problem = apprise_problem("nosuchservice://Tok3nValue99")
    assert problem is not None and "nosuchservice://" in problem and "Tok3n" not in problem
