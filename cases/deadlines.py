"""When each step of a case is due, and where it stands: the one home of both rules. The case sweep stores each
step's due date and due-soon date (cases.store); SQL reads them through case_step_state() (migration 013), the
twin of :func:`step_state` (tests/integration/test_cases.py shows they agree)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from qsmon.case_rules import OPENED, CategoryRules, StepRule, Unit
from qsmon.workdays import add_working_days


class StepState(StrEnum):
    DONE_ON_TIME = "done_on_time"
    DONE_LATE = "done_late"
    OPEN = "open"  # due, but not soon
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    WAITING = "waiting"  # counts from a step not done yet: no due date


@dataclass(frozen=True, slots=True)
class StepDeadline:
    step: StepRule
    due_on: date | None  # None while the step it counts from is not done
    soon_on: date | None  # from this day on, the step is due soon
    provisional: bool  # computed past the working-day calendar's last year (weekends only)


def due_date(rule: StepRule, anchor: date) -> tuple[date, bool]:
    if rule.due.unit is Unit.IMMEDIATELY:
        return anchor, False
    if rule.due.unit is Unit.DAYS:
        return anchor + timedelta(days=rule.due.within), False
    return add_working_days(anchor, rule.due.within)


def deadlines(rules: CategoryRules, opened_on: date, done: Mapping[str, date], soon_working_days: int
              ) -> list[StepDeadline]:
    """Every step's due date: from the day the case opened, or from the day the step it counts from was done."""
    out = []
    for rule in rules.steps:
        anchor = opened_on if rule.due.from_ == OPENED else done.get(rule.due.from_)
        if anchor is None:
            out.append(StepDeadline(rule, None, None, False))
            continue
        due_on, provisional = due_date(rule, anchor)
        soon_on, soon_provisional = add_working_days(due_on, -soon_working_days)
        out.append(StepDeadline(rule, due_on, max(anchor, soon_on), provisional or soon_provisional))
    return out


def step_state(done_on: date | None, due_on: date | None, soon_on: date | None, today: date) -> StepState:
    """Where a step stands on ``today`` (SQL twin: case_step_state)."""
    if done_on is not None:
        return StepState.DONE_ON_TIME if due_on is None or done_on <= due_on else StepState.DONE_LATE
    if due_on is None:
        return StepState.WAITING
    if today > due_on:
        return StepState.OVERDUE
    if soon_on is not None and today >= soon_on:
        return StepState.DUE_SOON
    return StepState.OPEN
