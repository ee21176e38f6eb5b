"""Reference data the dashboards join on: plans, their indicators, region names and labels, synced from the code."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from qsmon.plans.counting import Counting
from qsmon.plans.model import Plan
from qsmon.regions import regions
from qsmon.storage.locks import REFERENCE_DATA, SCOPED_OBJID


def sync_reference(
    conn: psycopg.Connection,
    plans: Iterable[Plan],
    labels: Iterable[tuple[str, str, str]] = (),
    problem_terms: Iterable[tuple[int, str, str, str]] = (),
) -> int:
    """Replace plan_indicators, regions and labels with what the plan files, the region table and ``labels``
    ((kind, code, label) rows: indicators.labels.label_rows) say; returns the number of indicators."""
    rows = [
        (
            plan.id,
            ind.id,
            plan.title,
            ind.name,
            ind.measure.value,
            [c.value for c in ind.filter.categories],
            [s.value for s in ind.filter.sampling_types],
            list(ind.filter.subcategories),
            [s.value for s in ind.filter.stages],
            [g.value for g in ind.grades],
            ind.target.op.value,
            ind.target.value,
            ind.min_samples,
            plan.jurisdiction.code,
            position,
            plan.counting_date.value,
            ind.place.value,
            [level.value for level in ind.filter.sampling_levels],
            Counting.of(plan, ind).source,
        )
        for plan in plans
        for position, ind in enumerate(plan.indicators)
    ]
    plans = list(plans)
    with conn.transaction():
        # Several alert engines (or an init) starting together would both insert the same keys: one at a time.
        conn.execute(
            f"SELECT pg_advisory_xact_lock(%(class)s, {SCOPED_OBJID})", {"class": REFERENCE_DATA, "name": "reference"}
        )
        conn.execute("DELETE FROM plans")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO plans (plan_id, title, jurisdiction, period_start, period_end, in_force_until)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [(p.id, p.title, p.jurisdiction.code, p.period.start, p.period.end, p.in_force_until) for p in plans],
            )
        conn.execute("DELETE FROM plan_indicators")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO plan_indicators (plan_id, indicator_id, plan_title, name, measure, categories,"
                " sampling_types, subcategories, stages, grades, op, target, min_samples, jurisdiction, position,"
                " counting_date, place, sampling_levels, counting_source)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
            conn.execute("DELETE FROM regions")
            cur.executemany(
                "INSERT INTO regions (code, name, parent) VALUES (%s, %s, %s)",
                [(r.code, r.name, r.parent) for r in regions().values()],
            )
            conn.execute("DELETE FROM labels")
            cur.executemany("INSERT INTO labels (kind, code, label) VALUES (%s, %s, %s)", list(labels))
            conn.execute("DELETE FROM problem_type_terms")
            cur.executemany(
                "INSERT INTO problem_type_terms (position, category, term, problem_type) VALUES (%s, %s, %s, %s)",
                list(problem_terms),
            )
    return len(rows)
