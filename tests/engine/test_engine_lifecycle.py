import pytest

from kraken_tui.clock import VirtualClock
from kraken_tui.domain import ComponentState as S
from kraken_tui.engine.lifecycle import InvalidTransition, Lifecycle, StateChange


def test_normal_run_goes_through_every_live_state() -> None:
    changes: list[StateChange] = []
    lifecycle = Lifecycle("exchange", VirtualClock())
    lifecycle.on_change(changes.append)
    for state in (S.STARTING, S.RUNNING, S.DEGRADED, S.RUNNING, S.STOPPING, S.STOPPED):
        lifecycle.transition(state)
    assert [(c.previous, c.state) for c in changes][2:4] == [
        (S.RUNNING, S.DEGRADED),
        (S.DEGRADED, S.RUNNING),
    ]
    assert lifecycle.state is S.STOPPED


def test_skipping_start_up_is_refused() -> None:
    lifecycle = Lifecycle("engine", VirtualClock())
    with pytest.raises(InvalidTransition, match="stopped to running"):
        lifecycle.transition(S.RUNNING)


def test_faulted_component_can_only_stop() -> None:
    lifecycle = Lifecycle("engine", VirtualClock())
    lifecycle.transition(S.STARTING)
    lifecycle.transition(S.FAULTED, "boom")
    assert lifecycle.reason == "boom"
    assert not lifecycle.can_transition(S.RUNNING)
    lifecycle.transition(S.STOPPED)


def test_degrade_and_recover_only_act_on_live_states() -> None:
    lifecycle = Lifecycle("bus", VirtualClock())
    lifecycle.degrade("lagging")
    assert lifecycle.state is S.STOPPED
    lifecycle.transition(S.STARTING)
    lifecycle.transition(S.RUNNING)
    lifecycle.degrade("lagging")
    assert lifecycle.state is S.DEGRADED and lifecycle.is_live
    lifecycle.recover()
    assert lifecycle.state is S.RUNNING


def test_repeating_the_current_state_is_a_no_op() -> None:
    lifecycle = Lifecycle("x", VirtualClock())
    assert lifecycle.transition(S.STOPPED) is None
