"""The alert lifecycle: hysteresis, cool-down, escalation, and no flapping on borderline data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.lifecycle import AlertView, Policy, Transition, advance, decide
from indicators.stats import State

POLICY = Policy(hold=timedelta(minutes=10), cooldown=timedelta(hours=1))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def replay(states: list[State], step: timedelta = timedelta(minutes=1)) -> list[Transition]:
    view: AlertView | None = None
    transitions = []
    for i, state in enumerate(states):
        now = T0 + i * step
        decision = decide(view, state, now, POLICY)
        if decision.transition:
            transitions.append(decision.transition)
        view = advance(view, decision, now)
    return transitions


class TestLifecycle:
    def test_a_firing_evaluation_opens_an_alert(self) -> None:
        assert replay([State.OK, State.WARNING]) == [Transition.OPENED]

    def test_it_resolves_only_after_the_hold_period_at_target(self) -> None:
        assert replay([State.CRITICAL] + [State.OK] * 10) == [Transition.OPENED]
        assert replay([State.CRITICAL] + [State.OK] * 11) == [Transition.OPENED, Transition.RESOLVED]

    def test_a_relapse_during_the_hold_restarts_it(self) -> None:
        states = [State.CRITICAL] + [State.OK] * 8 + [State.WARNING] + [State.OK] * 10
        assert replay(states) == [Transition.OPENED]

    def test_escalation_notifies_once_and_severity_does_not_fall_back(self) -> None:
        states = [State.WARNING, State.CRITICAL, State.WARNING, State.CRITICAL, State.WARNING]
        assert replay(states) == [Transition.OPENED, Transition.ESCALATED]

    def test_firing_again_within_the_cooldown_reopens_the_same_alert(self) -> None:
        states = [State.CRITICAL] + [State.OK] * 11 + [State.WARNING]
        assert replay(states) == [Transition.OPENED, Transition.RESOLVED, Transition.REOPENED]

    def test_firing_after_the_cooldown_opens_a_new_alert(self) -> None:
        states = [State.CRITICAL] + [State.OK] * 11 + [State.OK] * 70 + [State.WARNING]
        assert replay(states) == [Transition.OPENED, Transition.RESOLVED, Transition.OPENED]

    def test_missing_data_is_not_recovery(self) -> None:
        states = [State.CRITICAL] + [State.INSUFFICIENT_DATA] * 30
        assert replay(states) == [Transition.OPENED]

    def test_fifty_borderline_evaluations_in_a_row_do_not_flap(self) -> None:
        # A rate hovering at its target: warning and ok alternate with every new result.
        states = [State.WARNING if i % 2 == 0 else State.OK for i in range(50)]
        assert replay(states, step=timedelta(seconds=20)) == [Transition.OPENED]
