"""The case sweep, run by the leading alert service: it moves only what time moves. Notices of steps due soon and
overdue (once each, forever: the fact is kept with the step, not inferred from the outbox), the one 协查 notice of
a case made outside its region (to the manufacturer's bureau), and a daily digest per bureau, through the same
outbox, routing and silences as the rate alerts (a case notice is routed as plan ``cases``, indicator = the step,
region = the bureau, or the manufacturer's for 协查) to the channels that name ``cases`` in their ``plans``."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg

from cases.deadlines import StepState
from cases.store import (
    AssistRequest,
    PendingStep,
    assist_requests,
    escalations,
    mark_assist_noticed,
    mark_escalated,
    mark_noticed,
    open_missing_cases,
    pending_steps,
)
from notify.outbox import enqueue_case_notice
from notify.routing import Channel, wants
from notify.silences import silenced
from qsmon.case_rules import ASSIST_SENT, DeadlineTable
from qsmon.regions import name_of

log = logging.getLogger("qsmon.cases")

CASES_PLAN = "cases"  # how channels (plans: [cases]) and silences (--plan cases) name case notices
# Escalations (督办) go to another audience, the city's: channels opt in with plans: [cases-escalation], and a
# county's silence on `cases` does not mute them (--plan cases-escalation does).
ESCALATION_PLAN = "cases-escalation"
ESCALATION_SEVERITY = "critical"
SEVERITY = {StepState.DUE_SOON: "warning", StepState.OVERDUE: "critical"}
DIGEST_SEVERITY = "warning"
ASSIST_SEVERITY = "warning"
ASSIST_STEP = ASSIST_SENT  # how a silence names 协查 notices (--indicator assist_sent)


@dataclass(frozen=True, slots=True)
class _Scope:
    region_code: str


@dataclass(frozen=True, slots=True)
class _Routable:
    plan_id: str
    scope: _Scope


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    cases_opened: int = 0  # failures stored before cases existed, or of a category just added
    notices_queued: int = 0
    digests_queued: int = 0
    assists_queued: int = 0
    escalations_queued: int = 0


def _silenced(
    conn: psycopg.Connection, region: str, step: str | None, severity: str, now: datetime, plan: str = CASES_PLAN
) -> bool:
    return silenced(conn, plan_id=plan, indicator_id=step, region_code=region, window=None, severity=severity, now=now)


def _payload(p: PendingStep) -> dict[str, Any]:
    return {
        "kind": "case_step",
        "case_id": p.case_id,
        "sample_id": p.sample_id,
        "region": p.region_code,
        "region_name": name_of(p.region_code),
        "category": p.category,
        "product": p.product,
        "firm": p.firm,
        "opened_on": p.opened_on.isoformat(),
        "step": p.step,
        "step_name": p.name,
        "basis": p.basis,
        "due_on": p.due_on.isoformat(),
        "state": p.state.value,
    }


def _assist_payload(a: AssistRequest) -> dict[str, Any]:
    return {
        "kind": "case_assist",
        "case_id": a.case_id,
        "sample_id": a.sample_id,
        "region": a.region_code,
        "region_name": name_of(a.region_code),
        "made_in": a.manufacturer_region_code,
        "made_in_name": name_of(a.manufacturer_region_code),
        "category": a.category,
        "product": a.product,
        "firm": a.firm,
        "opened_on": a.opened_on.isoformat(),
        "due_on": a.due_on.isoformat() if a.due_on else None,
        "reply_basis": a.reply_basis,
    }


class CaseSweep:
    def __init__(
        self, table: DeadlineTable, channels: list[Channel], *, soon_working_days: int, digest_hour: int, timezone: str
    ) -> None:
        self.table, self.channels = table, channels
        self.soon_working_days, self.digest_hour, self.timezone = soon_working_days, digest_hour, timezone

    def run(self, conn: psycopg.Connection, now: datetime, today: date, local_hour: int) -> SweepOutcome:
        """One pass, one transaction; exactly once per notice however often it runs (idempotency keys)."""
        queued = digests = 0
        with conn.transaction():
            # An upgrade's or a new category's failures get their cases, with their steps (the worker opens the
            # others with their steps in its batch): nothing here writes a deadline of an existing case.
            opened = open_missing_cases(
                conn, self.table, today, self.timezone, soon_working_days=self.soon_working_days
            )
            pending = pending_steps(conn, today, [StepState.DUE_SOON, StepState.OVERDUE])
            for p in pending:
                if p.noticed:
                    continue
                severity = SEVERITY[p.state]
                if _silenced(conn, p.region_code, p.step, severity, now):
                    continue  # noticed once the silence ends
                sent, told = self._tell(
                    conn,
                    p.region_code,
                    severity,
                    p.case_id,
                    f"case-{p.case_id}-{p.step}-{p.state.value}-{p.due_on.isoformat()}",
                    _payload(p),
                )
                queued += sent
                if told:  # nobody to tell yet: a channel added later still hears of it
                    mark_noticed(conn, p)
            assists = self._assists(conn, now)
            escalated = self._escalations(conn, today, now)
            if local_hour >= self.digest_hour:
                digests = self._digests(conn, today, now, pending)
        return SweepOutcome(opened, queued, digests, assists, escalated)

    def _tell(
        self, conn: psycopg.Connection, region: str, severity: str, case_id: int, once_key: str, payload: dict[str, Any]
    ) -> tuple[int, bool]:
        """A case's notice to every channel wanting the region at this severity, grouped by region: (queued, whether
        any channel wants it)."""
        channels = self._wanting(region, severity)
        queued = sum(
            enqueue_case_notice(
                conn,
                case_id=case_id,
                channel=channel.name,
                group_key=f"cases:{region}",
                once_key=once_key,
                payload=payload,
            )
            for channel in channels
        )
        return queued, bool(channels)

    def _assists(self, conn: psycopg.Connection, now: datetime) -> int:
        """One 协查 notice per case made outside its region, to the channels of the manufacturer's region (routed
        as step notices are, by the manufacturer's code); kept with the case once queued."""
        queued = 0
        for a in assist_requests(conn):
            if _silenced(conn, a.manufacturer_region_code, ASSIST_STEP, ASSIST_SEVERITY, now):
                continue
            sent, told = self._tell(
                conn,
                a.manufacturer_region_code,
                ASSIST_SEVERITY,
                a.case_id,
                f"case-{a.case_id}-assist",
                _assist_payload(a),
            )
            queued += sent
            if told:
                mark_assist_noticed(conn, a.case_id)
        return queued

    def _escalations(self, conn: psycopg.Connection, today: date, now: datetime) -> int:
        """Each step still not done on its escalation day, once, to the channels asking for escalations of its
        region (the city's channel covers its counties); kept with the step once queued."""
        queued = 0
        for e in escalations(conn, today):
            p = e.step
            if _silenced(conn, p.region_code, p.step, ESCALATION_SEVERITY, now, ESCALATION_PLAN):
                continue
            channels = self._wanting(p.region_code, ESCALATION_SEVERITY, ESCALATION_PLAN)
            for channel in channels:
                queued += enqueue_case_notice(
                    conn,
                    case_id=p.case_id,
                    channel=channel.name,
                    group_key=f"cases:{p.region_code}",
                    once_key=f"case-{p.case_id}-{p.step}-escalation-{p.due_on.isoformat()}",
                    payload=_payload(p) | {"kind": "case_escalation", "escalate_on": e.escalate_on.isoformat()},
                )
            if channels:
                mark_escalated(conn, p.case_id, p.step)
        return queued

    def _wanting(self, region: str, severity: str, plan: str = CASES_PLAN) -> list[Channel]:
        """Channels that opted in (``plans`` names ``cases``, or ``cases-escalation``: case notices are another
        audience than rate alerts, and a duty channel must not start getting them by an upgrade), for the region
        and severity."""
        target = _Routable(plan, _Scope(region))
        return [c for c in self.channels if plan in c.plans and wants(c, target, severity)]

    def _digests(self, conn: psycopg.Connection, today: date, now: datetime, pending: list[PendingStep]) -> int:
        """Each bureau with open cases, once a day: counts, and its oldest steps due soon or overdue."""
        by_region: dict[str, list[PendingStep]] = defaultdict(list)
        for p in pending:
            by_region[p.region_code].append(p)
        open_counts: dict[str, int] = dict(
            conn.execute(
                "SELECT region_code, count(*) FROM cases WHERE status = 'open' GROUP BY region_code"
            ).fetchall()
        )
        queued = 0
        for region, count in sorted(open_counts.items()):
            if _silenced(conn, region, None, DIGEST_SEVERITY, now):
                continue
            steps = by_region.get(region, [])
            payload = {
                "kind": "case_digest",
                "region": region,
                "region_name": name_of(region),
                "day": today.isoformat(),
                "open": count,
                "due_soon": sum(p.state is StepState.DUE_SOON for p in steps),
                "overdue": sum(p.state is StepState.OVERDUE for p in steps),
                "oldest": [_payload(p) for p in steps[:5]],
            }
            for channel in self._wanting(region, DIGEST_SEVERITY):
                queued += enqueue_case_notice(
                    conn,
                    case_id=None,
                    channel=channel.name,
                    group_key=f"cases:{region}",
                    once_key=f"case-digest-{region}-{today.isoformat()}",
                    payload=payload,
                )
        return queued
