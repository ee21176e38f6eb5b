"""Cases in the database: progress recorded with its checks (and the deadlines that count from it recomputed), read
back for the CLI, the API, the dashboards and the reports. Cases and their steps are written together where they
are opened (qsmon.case_steps)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from cases.deadlines import StepState, step_state
from cases.exceptions import CaseNotFoundError, StepRefusedError
from qsmon.case_rules import ASSIST_REPLY, ASSIST_SENT, OPENED, CategoryRules, DeadlineTable, needs_assist
from qsmon.case_steps import write_opening_steps, write_steps
from qsmon.regions import like_pattern


@dataclass(frozen=True, slots=True)
class Step:
    step: str
    name: str
    basis: str
    due_on: date | None
    soon_on: date | None
    provisional: bool
    done_on: date | None
    done_by: str | None
    note: str
    attachment: str | None
    recorded_via: str | None
    recall_level: str | None = None  # on the risk-control step: level_1..3 or none (migration 031)

    def state(self, today: date) -> StepState:
        return step_state(self.done_on, self.due_on, self.soon_on, today)


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    sample_id: str
    revision: int
    category: str
    region_code: str
    product: str | None
    firm: str | None
    opened_on: date
    status: str
    closed_on: date | None
    manufacturer_region_code: str | None = None  # kept from migration 032 on
    steps: tuple[Step, ...] = ()

    @property
    def assist(self) -> bool:
        """Whether the case asks the manufacturer's bureau for 协查 (qsmon.case_rules.needs_assist)."""
        return needs_assist(self.region_code, self.manufacturer_region_code)

    @property
    def recall_level(self) -> str | None:
        return next((s.recall_level for s in self.steps if s.recall_level is not None), None)


_CASE_COLUMNS = (
    "id, sample_id, revision, category, region_code, product, firm, opened_on, status, closed_on,"
    " manufacturer_region_code"
)
_STEP_COLUMNS = (
    "step, name, basis, due_on, soon_on, provisional, done_on, done_by, note, attachment, recorded_via, recall_level"
)


def get_case(conn: psycopg.Connection, case_id: int) -> Case:
    row = conn.execute(f"SELECT {_CASE_COLUMNS} FROM cases WHERE id = %s", (case_id,)).fetchone()
    if row is None:
        raise CaseNotFoundError("no such case", case=case_id)
    steps = conn.execute(
        f"SELECT {_STEP_COLUMNS} FROM case_steps WHERE case_id = %s ORDER BY position", (case_id,)
    ).fetchall()
    (id_, sample_id, revision, category, region_code, product, firm, opened_on, status, closed_on, made_in) = row
    return Case(
        id_,
        sample_id,
        revision,
        category,
        region_code,
        product,
        firm,
        opened_on,
        status,
        closed_on,
        made_in,
        tuple(Step(*s) for s in steps),
    )


def find_case(conn: psycopg.Connection, sample_id: str) -> Case:
    row = conn.execute("SELECT id FROM cases WHERE sample_id = %s", (sample_id,)).fetchone()
    if row is None:
        raise CaseNotFoundError("no case for this sample", sample_id=sample_id)
    return get_case(conn, int(row[0]))


_LIST_WHERE = (
    "(%(status)s::text IS NULL OR status = %(status)s) AND (%(pattern)s::text IS NULL OR region_code LIKE %(pattern)s)"
)


@dataclass(frozen=True, slots=True)
class CasePage:
    cases: list[Case]
    total: int  # how many match: the page may leave some out
    offset: int

    @property
    def left_out(self) -> int:
        return self.total - len(self.cases)


def list_cases(
    conn: psycopg.Connection,
    *,
    status: str | None = "open",
    region: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> CasePage:
    """Oldest first, one page; ``region`` is a GB/T 2260 prefix (a city's code lists its counties' cases too)."""
    params = {"status": status, "pattern": like_pattern(region) if region else None, "n": limit, "skip": offset}
    rows = conn.execute(
        f"SELECT id FROM cases WHERE {_LIST_WHERE} ORDER BY opened_on, id LIMIT %(n)s OFFSET %(skip)s", params
    ).fetchall()
    total = conn.execute(f"SELECT count(*) FROM cases WHERE {_LIST_WHERE}", params).fetchone()
    return CasePage([get_case(conn, int(r[0])) for r in rows], int(total[0]) if total else 0, offset)


def write_deadlines(conn: psycopg.Connection, case: Case, rules: CategoryRules, soon_working_days: int) -> None:
    """(Re)compute every step's due dates from the rules and the steps done so far; keeps what people recorded."""
    done = {s.step: s.done_on for s in case.steps if s.done_on is not None}
    write_steps(conn, case.id, rules, case.opened_on, done, soon_working_days)


@dataclass(frozen=True, slots=True)
class Progress:
    step: str
    done_on: date
    done_by: str
    note: str = ""
    attachment: str | None = None
    recall_level: str | None = None  # with the risk-control step: a level's id or name (一级召回, 一级), or none


def record_step(
    conn: psycopg.Connection,
    table: DeadlineTable,
    case_id: int,
    progress: Progress,
    *,
    today: date,
    via: str,
    soon_working_days: int,
) -> Case:
    """Record a step as done, with its checks; recompute the deadlines that count from it; close the case when
    every step is done. One transaction: a refused record changes nothing. Recording the same step again with the
    same date is a no-op (a retried request); with another date it is refused."""
    with conn.transaction():
        conn.execute("SELECT 1 FROM cases WHERE id = %s FOR UPDATE", (case_id,))
        case = get_case(conn, case_id)
        level = _recall_level(table, case, progress)
        rules = table.rules_for(case.category, level or case.recall_level, assist=case.assist)
        if rules is None:
            raise StepRefusedError("this case's category has no steps", case=case_id, category=case.category)
        _check(case, rules, progress, today)
        already = next((s for s in case.steps if s.step == progress.step), None)
        if already is not None and already.done_on is not None:
            if level is not None and already.recall_level != level:
                raise StepRefusedError(
                    "step already recorded with another recall level",
                    case=case_id,
                    step=progress.step,
                    recorded=already.recall_level or "-",
                )
            if already.done_on == progress.done_on:
                return case
            raise StepRefusedError(
                "step already recorded with another date",
                case=case_id,
                step=progress.step,
                recorded=already.done_on.isoformat(),
            )
        updated = conn.execute(
            "UPDATE case_steps SET done_on = %s, done_by = %s, note = %s, attachment = %s, recorded_at = now(),"
            " recorded_via = %s, recall_level = coalesce(%s, recall_level) WHERE case_id = %s AND step = %s",
            (
                progress.done_on,
                progress.done_by,
                progress.note,
                progress.attachment,
                via,
                level,
                case_id,
                progress.step,
            ),
        )
        if updated.rowcount != 1:  # steps are written with the case: a missing one is a fault, never a no-op
            raise StepRefusedError(
                "the case has no such step written",
                case=case_id,
                step=progress.step,
                written=[s.step for s in case.steps],
            )
        write_deadlines(conn, get_case(conn, case_id), rules, soon_working_days)
        after = get_case(conn, case_id)
        if all(s.done_on is not None for s in after.steps):
            last = max(s.done_on for s in after.steps if s.done_on is not None)
            conn.execute(
                "UPDATE cases SET status = 'closed', closed_on = %s, updated_at = now() WHERE id = %s", (last, case_id)
            )
    return get_case(conn, case_id)


def _recall_level(table: DeadlineTable, case: Case, progress: Progress) -> str | None:
    """The recall level's id the record gives (None when it gives none), refused unless on the recall step."""
    if progress.recall_level is None:
        return None
    if table.recall is None or progress.step != table.recall.step:
        raise StepRefusedError(
            "a recall level is recorded with the risk-control step only",
            step=progress.step,
            recall_step=table.recall.step if table.recall else "-",
        )
    try:
        return table.recall_level(case.category, progress.recall_level.strip())
    except ValueError as exc:
        raise StepRefusedError(str(exc), case=case.id) from None


def _check(case: Case, rules: CategoryRules, progress: Progress, today: date) -> None:
    step = rules.step(progress.step)
    if step is None:
        raise StepRefusedError("unknown step", step=progress.step, steps=[s.id for s in rules.steps])
    if case.status != "open":
        raise StepRefusedError(f"the case is {case.status}", case=case.id)
    if progress.done_on < case.opened_on:
        raise StepRefusedError(
            "date before the failure was received",
            done_on=progress.done_on.isoformat(),
            opened_on=case.opened_on.isoformat(),
        )
    if progress.done_on > today:
        raise StepRefusedError("date in the future", done_on=progress.done_on.isoformat(), today=today.isoformat())
    if step.due.from_ != OPENED:
        before = next((s for s in case.steps if s.step == step.due.from_), None)
        if before is None or before.done_on is None:
            raise StepRefusedError(
                "step out of order: record the step it follows first", step=step.id, follows=step.due.from_
            )
        if progress.done_on < before.done_on:
            raise StepRefusedError(
                "date before the step it follows",
                step=step.id,
                follows=step.due.from_,
                follows_done_on=before.done_on.isoformat(),
            )
    if not progress.done_by.strip():
        raise StepRefusedError("who did it is required")


# Failures stored before cases existed (an upgrade), or of a category a site's deadline file has just added: opened
# as the worker would have, with their steps. Only recent ones: an older failure's follow-up happened outside qsmon.
BACKFILL_DAYS = 90
_OPEN_MISSING = """
INSERT INTO cases (sample_id, revision, category, region_code, product, firm, opened_on, manufacturer_region_code)
SELECT f.sample_id, f.revision, f.category, f.region_code, f.product, coalesce(f.manufacturer, f.sampled_unit),
    coalesce((r.reported_at AT TIME ZONE %(tz)s)::date, f.day), r.manufacturer_region_code
FROM failure_current f
LEFT JOIN inspection_results r ON r.sample_id = f.sample_id AND r.revision = f.revision
    AND r.sampled_at = f.sampled_at
WHERE f.category = ANY(%(categories)s) AND f.day >= %(since)s
    AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.sample_id = f.sample_id)
ON CONFLICT (sample_id) DO NOTHING
"""


def open_missing_cases(
    conn: psycopg.Connection, table: DeadlineTable, today: date, timezone: str, *, soon_working_days: int
) -> int:
    """Open the cases of recent current failures that have none, and write the steps of open cases without any
    (opened before steps were written with the case), in one transaction; returns how many cases were opened."""
    with conn.transaction():
        opened = conn.execute(
            _OPEN_MISSING,
            {"tz": timezone, "categories": table.case_categories, "since": today - timedelta(days=BACKFILL_DAYS)},
        ).rowcount
        write_opening_steps(conn, table, soon_working_days)
    return opened


@dataclass(frozen=True, slots=True)
class PendingStep:
    case_id: int
    sample_id: str
    region_code: str
    category: str
    product: str | None
    firm: str | None
    opened_on: date
    step: str
    name: str
    basis: str
    due_on: date
    state: StepState
    noticed: bool = False  # this state's notice was queued already (kept with the step: migration 030)


# The column that records, per state, that its notice was queued.
NOTICED_COLUMN = {StepState.DUE_SOON: "soon_noticed_at", StepState.OVERDUE: "overdue_noticed_at"}


def pending_steps(conn: psycopg.Connection, today: date, states: Sequence[StepState]) -> list[PendingStep]:
    """Steps of open cases in the given states today, oldest due first."""
    rows = conn.execute(
        "SELECT c.id, c.sample_id, c.region_code, c.category, c.product, c.firm, c.opened_on, s.step, s.name,"
        " s.basis, s.due_on, st.state,"
        " CASE st.state WHEN 'due_soon' THEN s.soon_noticed_at IS NOT NULL"
        "  WHEN 'overdue' THEN s.overdue_noticed_at IS NOT NULL ELSE false END"
        " FROM cases c JOIN case_steps s ON s.case_id = c.id"
        " CROSS JOIN LATERAL (SELECT case_step_state(s.done_on, s.due_on, s.soon_on, %(today)s) AS state) st"
        " WHERE c.status = 'open' AND st.state = ANY(%(states)s)"
        " ORDER BY s.due_on, c.id, s.position",
        {"today": today, "states": [s.value for s in states]},
    ).fetchall()
    return [
        PendingStep(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], StepState(r[11]), bool(r[12]))
        for r in rows
    ]


def mark_noticed(conn: psycopg.Connection, step: PendingStep) -> None:
    """Keep with the step that its notice for this state was queued: once, whatever the outbox still holds."""
    conn.execute(
        f"UPDATE case_steps SET {NOTICED_COLUMN[step.state]} = now()"  # a fixed column name
        " WHERE case_id = %s AND step = %s",
        (step.case_id, step.step),
    )


@dataclass(frozen=True, slots=True)
class Escalation:
    """A step still not done on its escalation day (督办), not yet escalated."""

    step: PendingStep
    escalate_on: date


def escalations(conn: psycopg.Connection, today: date) -> list[Escalation]:
    rows = conn.execute(
        "SELECT c.id, c.sample_id, c.region_code, c.category, c.product, c.firm, c.opened_on, s.step, s.name,"
        " s.basis, s.due_on, s.escalate_on FROM cases c JOIN case_steps s ON s.case_id = c.id"
        " WHERE c.status = 'open' AND s.done_on IS NULL AND s.escalate_on <= %s AND s.escalated_at IS NULL"
        " ORDER BY s.due_on, c.id, s.position",
        (today,),
    ).fetchall()
    return [
        Escalation(
            PendingStep(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], StepState.OVERDUE), r[11]
        )
        for r in rows
    ]


def mark_escalated(conn: psycopg.Connection, case_id: int, step: str) -> None:
    conn.execute("UPDATE case_steps SET escalated_at = now() WHERE case_id = %s AND step = %s", (case_id, step))


@dataclass(frozen=True, slots=True)
class AssistRequest:
    """A case whose 协查 notice to the manufacturer's bureau has not been queued yet."""

    case_id: int
    sample_id: str
    region_code: str  # the sampling bureau
    manufacturer_region_code: str  # the bureau asked
    category: str
    product: str | None
    firm: str | None
    opened_on: date
    due_on: date | None  # when the 协查 must be sent (assist_sent)
    reply_basis: str


def assist_requests(conn: psycopg.Connection) -> list[AssistRequest]:
    """Open cases with 协查 steps (written only when the manufacturer is outside the case's region) whose notice
    was not queued yet."""
    rows = conn.execute(
        "SELECT c.id, c.sample_id, c.region_code, c.manufacturer_region_code, c.category, c.product, c.firm,"
        " c.opened_on, s.due_on, coalesce(r.basis, '')"
        " FROM cases c JOIN case_steps s ON s.case_id = c.id AND s.step = %s"
        " LEFT JOIN case_steps r ON r.case_id = c.id AND r.step = %s"
        " WHERE c.status = 'open' AND c.assist_noticed_at IS NULL AND c.manufacturer_region_code IS NOT NULL"
        " ORDER BY c.id",
        (ASSIST_SENT, ASSIST_REPLY),
    ).fetchall()
    return [AssistRequest(*r) for r in rows]


def mark_assist_noticed(conn: psycopg.Connection, case_id: int) -> None:
    conn.execute("UPDATE cases SET assist_noticed_at = now() WHERE id = %s", (case_id,))
