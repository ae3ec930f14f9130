"""The fault plan consumes counted faults one by one and validates control requests."""

from __future__ import annotations

import pytest

from kraken_tui.sandbox.faults import DropTarget, FaultInjector, FaultRequestError


def test_counted_faults_are_consumed_one_by_one() -> None:
    faults = FaultInjector()
    faults.apply({"reject_orders": 2, "rest_5xx": 1, "rest_5xx_status": 502})
    assert [faults.take_reject() for _ in range(3)] == [
        "EService:Unavailable",
        "EService:Unavailable",
        None,
    ]
    assert [faults.take_rest_5xx() for _ in range(2)] == [502, None]


def test_stall_runs_from_the_moment_it_is_set() -> None:
    now = [10.0]
    faults = FaultInjector(clock=lambda: now[0])
    faults.apply({"stall_s": 2})
    now[0] += 0.5
    assert faults.stall_remaining() == pytest.approx(1.5)
    now[0] += 2
    assert faults.stall_remaining() == 0


def test_drop_ws_asks_every_registered_hub_and_reports_the_count() -> None:
    faults = FaultInjector()
    seen: list[DropTarget] = []

    def hub(target: DropTarget) -> int:
        seen.append(target)
        return 3

    faults.on_drop(hub)
    state = faults.apply({"drop_ws": "private"})
    assert seen == [DropTarget.PRIVATE]
    assert state["dropped_connections"] == 3


@pytest.mark.parametrize(
    "request_body",
    [{"explode": 1}, {"reject_orders": -1}, {"ws_delay_ms": "soon"}, {"drop_ws": "everyone"}],
)
def test_bad_control_requests_are_refused(request_body: dict[str, object]) -> None:
    with pytest.raises(FaultRequestError):
        FaultInjector().apply(request_body)


def test_reset_clears_every_fault() -> None:
    faults = FaultInjector()
    faults.apply({"reject_orders": 5, "stall_s": 30})
    faults.apply({"reset": True})
    assert faults.take_reject() is None
    assert faults.stall_remaining() == 0
