"""The alert lifecycle: open, escalate, hold, resolve, reopen — without flapping.

* An alert opens when an evaluation is `warning` or `critical`.
* It resolves only after the evaluation has been `ok` for the whole hold period; one relapse restarts the hold.
* Its severity only rises while it is open (warning → critical notifies once; critical → warning does not), and
  never above the indicator's own severity: an `info` indicator is recorded, never paged.
* Firing again within the cool-down after resolving reopens the same alert rather than opening a new one.
* `insufficient_data` changes nothing: silence in the data is not recovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from indicators.stats import State


class Transition(StrEnum):
    OPENED = "opened"
    ESCALATED = "escalated"
    REOPENED = "reopened"
    RESOLVED = "resolved"
    REPEATED = "repeated"  # still firing: a reminder, or the announcement of one opened while silenced
    EXPIRED = "expired"  # closed because its plan is no longer in force
    HANDED_UP = "handed_up"  # unacknowledged past an escalation step's working hours: sent up (alerts.escalation)
    ACKNOWLEDGED = "acknowledged"  # someone is on it (alerts.acks): an event of its history, never decided here


@dataclass(frozen=True, slots=True)
class Policy:
    hold: timedelta = timedelta(minutes=10)
    cooldown: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AlertView:
    """What the decision needs to know of the key's latest alert."""

    firing: bool
    severity: str
    ok_since: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class Decision:
    transition: Transition | None  # None: nothing to record or notify
    severity: str | None = None  # the alert's severity after the decision
    ok_since: datetime | None = None  # the hysteresis clock after the decision
    touch: bool = False  # the open alert's figures and ok_since are to be updated


_RANK = {"info": 0, "warning": 1, "critical": 2}


def capped(state: State, ceiling: str) -> str:
    """The severity an alert in ``state`` has under an indicator of severity ``ceiling``."""
    return min(state.value, ceiling, key=_RANK.__getitem__)


def decide(  # noqa: PLR0911
    current: AlertView | None,
    state: State,
    now: datetime,
    policy: Policy,
    ceiling: str = "critical",
) -> Decision:
    if state is State.INSUFFICIENT_DATA:
        return Decision(None)
    if current is None or not current.firing:
        if not state.firing:
            return Decision(None)
        recent = current is not None and current.resolved_at is not None and now - current.resolved_at < policy.cooldown
        return Decision(Transition.REOPENED if recent else Transition.OPENED, capped(state, ceiling), None, touch=True)
    # An open alert.
    if state.firing:
        severity = capped(state, ceiling)
        if _RANK[severity] > _RANK[current.severity]:
            return Decision(Transition.ESCALATED, severity, None, touch=True)
        return Decision(None, current.severity, None, touch=True)  # a relapse restarts the hold
    ok_since = current.ok_since or now
    if now - ok_since >= policy.hold:
        return Decision(Transition.RESOLVED, current.severity, ok_since, touch=True)
    return Decision(None, current.severity, ok_since, touch=True)


def advance(current: AlertView | None, decision: Decision, now: datetime) -> AlertView | None:
    """The key's alert after ``decision``: the state change the store then writes."""
    if decision.transition in (Transition.OPENED, Transition.REOPENED):
        return AlertView(True, decision.severity or "warning", None, None)
    if decision.transition is Transition.RESOLVED:
        return AlertView(False, decision.severity or "warning", decision.ok_since, now)
    if current is not None and decision.touch:
        return AlertView(current.firing, decision.severity or current.severity, decision.ok_since, current.resolved_at)
    return current
