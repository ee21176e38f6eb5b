"""The steps of a case and their deadlines, written with the case: the one home of the deadline rule (when each
step is due) and of the statement that stores it. Ground, because the worker opens cases in its batch's
transaction (streams.store) and writes their steps there; cases/ records progress and recomputes with the same
functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from qsmon.case_rules import OPENED, CategoryRules, DeadlineTable, StepRule, Unit, needs_assist
from qsmon.workdays import Calendar, add_working_days


@dataclass(frozen=True, slots=True)
class StepDeadline:
    step: StepRule
    due_on: date | None  # None while the step it counts from is not done
    soon_on: date | None  # from this day on, the step is due soon
    provisional: bool  # computed past the working-day calendar's last year (weekends only)
    escalate_on: date | None = None  # still not done on this day: 督办 (the step's escalate_after)


def due_date(rule: StepRule, anchor: date, calendar: Calendar | None = None) -> tuple[date, bool]:
    if rule.due.unit is Unit.IMMEDIATELY:
        return anchor, False
    if rule.due.unit is Unit.DAYS:
        return anchor + timedelta(days=rule.due.within), False
    if rule.due.unit is Unit.HOURS:  # dates, not instants: within 24 h of a day is by the end of the next
        return anchor + timedelta(days=-(-rule.due.within // 24)), False
    return add_working_days(anchor, rule.due.within, calendar)


def deadlines(
    rules: CategoryRules,
    opened_on: date,
    done: Mapping[str, date],
    soon_working_days: int,
    calendar: Calendar | None = None,
) -> list[StepDeadline]:
    """Every step's due date: from the day the case opened, or from the day the step it counts from was done
    (working days by ``calendar``, else the one the settings name)."""
    out = []
    for rule in rules.steps:
        anchor = opened_on if rule.due.from_ == OPENED else done.get(rule.due.from_)
        if anchor is None:
            out.append(StepDeadline(rule, None, None, False))
            continue
        due_on, provisional = due_date(rule, anchor, calendar)
        soon_on, soon_provisional = add_working_days(due_on, -soon_working_days, calendar)
        escalate_on = (
            None if rule.escalate_after is None else add_working_days(due_on, max(1, rule.escalate_after), calendar)[0]
        )  # overdue first, then escalated
        out.append(StepDeadline(rule, due_on, max(anchor, soon_on), provisional or soon_provisional, escalate_on))
    return out


# Inserted, or their deadlines recomputed: what people recorded (done_on, who, notes) is never touched here; the
# notices sent are forgotten only when the due date moves (a new deadline deserves its own notice).
_UPSERT_STEPS = """
INSERT INTO case_steps AS s (case_id, step, position, name, basis, due_on, soon_on, provisional, escalate_on)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::text[], %s::text[], %s::date[], %s::date[],
    %s::boolean[], %s::date[])
ORDER BY 1, 2  -- a fixed order: no deadlocks between writers
ON CONFLICT (case_id, step) DO UPDATE SET position = excluded.position, name = excluded.name,
    basis = excluded.basis, due_on = excluded.due_on, soon_on = excluded.soon_on, provisional = excluded.provisional,
    escalate_on = excluded.escalate_on,
    soon_noticed_at = CASE WHEN s.due_on IS DISTINCT FROM excluded.due_on THEN NULL ELSE s.soon_noticed_at END,
    overdue_noticed_at = CASE WHEN s.due_on IS DISTINCT FROM excluded.due_on THEN NULL ELSE s.overdue_noticed_at END,
    escalated_at = CASE WHEN s.due_on IS DISTINCT FROM excluded.due_on THEN NULL ELSE s.escalated_at END
"""


_Row = tuple[int, str, int, str, str, date | None, date | None, bool, date | None]


def _rows(case_id: int, steps: Sequence[StepDeadline]) -> list[_Row]:
    return [
        (case_id, d.step.id, position, d.step.name, d.step.basis, d.due_on, d.soon_on, d.provisional, d.escalate_on)
        for position, d in enumerate(steps)
    ]


def _upsert(conn: psycopg.Connection, rows: Sequence[_Row]) -> None:
    """All rows in one statement (a batch's cases share a round trip, not one each)."""
    if rows:
        conn.execute(_UPSERT_STEPS, [list(column) for column in zip(*rows, strict=True)])


def write_steps(
    conn: psycopg.Connection,
    case_id: int,
    rules: CategoryRules,
    opened_on: date,
    done: Mapping[str, date],
    soon_working_days: int,
    calendar: Calendar | None = None,
) -> None:
    """(Re)write every step of a case with its deadlines, keeping what was recorded."""
    _upsert(conn, _rows(case_id, deadlines(rules, opened_on, done, soon_working_days, calendar)))


# Open cases among these samples that have no steps yet: just opened (by the statement before, in the same
# transaction), or opened before steps were written with the case (an upgrade).
_WITHOUT_STEPS = """
SELECT k.id, k.category, k.opened_on, k.region_code, k.manufacturer_region_code FROM cases k
WHERE k.sample_id = ANY(%(samples)s) AND k.status = 'open'
    AND NOT EXISTS (SELECT 1 FROM case_steps s WHERE s.case_id = k.id)
ORDER BY k.id
"""
_ALL_WITHOUT_STEPS = """
SELECT k.id, k.category, k.opened_on, k.region_code, k.manufacturer_region_code FROM cases k
WHERE k.status = 'open' AND NOT EXISTS (SELECT 1 FROM case_steps s WHERE s.case_id = k.id)
ORDER BY k.id
"""


def write_opening_steps(
    conn: psycopg.Connection,
    table: DeadlineTable,
    soon_working_days: int,
    samples: Sequence[str] | None = None,
    calendar: Calendar | None = None,
) -> int:
    """Write the steps of open cases that have none (of ``samples``, or all), the 协查 steps included when the
    manufacturer is outside the case's region: call it in the transaction that opened them. Returns how many cases
    got their steps."""
    rows = conn.execute(
        _WITHOUT_STEPS if samples is not None else _ALL_WITHOUT_STEPS, {"samples": list(samples or ())}
    ).fetchall()
    # A batch's cases open on a few days: their deadlines are computed once per category, day and 协查.
    computed: dict[tuple[str, date, bool], list[StepDeadline]] = {}
    out: list[_Row] = []
    written = 0
    for case_id, category, opened_on, region_code, made_in in rows:
        key = (category, opened_on, needs_assist(region_code, made_in))
        if key not in computed:
            rules = table.rules_for(category, assist=key[2])
            computed[key] = [] if rules is None else deadlines(rules, opened_on, {}, soon_working_days, calendar)
        if computed[key]:
            out.extend(_rows(int(case_id), computed[key]))
            written += 1
    _upsert(conn, out)
    return written
