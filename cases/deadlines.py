"""Where a step of a case stands: the one home of the rule. When each step is due is qsmon.case_steps (the worker
writes the steps with the case); SQL reads them through case_step_state() (migration 013), the twin of
:func:`step_state` (tests/integration/test_cases.py shows they agree)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from qsmon.case_steps import StepDeadline, deadlines, due_date

__all__ = ["StepDeadline", "StepState", "deadlines", "due_date", "step_state"]


class StepState(StrEnum):
    DONE_ON_TIME = "done_on_time"
    DONE_LATE = "done_late"
    OPEN = "open"  # due, but not soon
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    WAITING = "waiting"  # counts from a step not done yet: no due date


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
