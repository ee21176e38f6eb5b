"""What the read API answers, from the same rollups, evaluations and failure tables as the dashboards and reports.

Every function takes validated arguments and returns plain rows; the routes (readapi.routes) check scopes, validate
and format. A region includes every code below it (region_pattern, as on the dashboards). Rates without a sampling
type are totals (indicators.counting.in_totals: risk monitoring and surveys count only when asked for by name);
an indicator's own rate, with its filter, is /v1/evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from indicators.counting import in_totals_sql, rate
from indicators.evaluate import fetch_counts, measured
from indicators.labels import label
from indicators.windows import month_range, shift_month
from qsmon.plans.model import Plan
from qsmon.publication import ANNOUNCED_SQL
from qsmon.regions import name_of
from qsmon.vocab import RetestStatus
from reports.published import items_published

GROUPINGS = ("day", "week", "month", "region", "subcategory")


@dataclass(frozen=True, slots=True)
class RateQuery:
    first: date
    last: date
    region: str
    group_by: str
    category: str | None = None
    subcategory: str | None = None
    sampling_type: str | None = None
    stage: str | None = None


_BUCKETS = {
    "day": ("r.day", "false", ""),
    "week": ("date_trunc('week', r.day)::date", "false", ""),
    "month": ("date_trunc('month', r.day)::date", "true", ""),
    "region": (
        "g.code",
        "true",
        "JOIN regions g ON g.parent = %(region)s AND r.region_code LIKE region_pattern(g.code)",
    ),
    "subcategory": ("r.subcategory", "true", ""),
}


def rates(conn: psycopg.Connection, q: RateQuery) -> list[dict[str, Any]]:
    bucket, whole, join = _BUCKETS[q.group_by]
    sql = f"""
SELECT {bucket} AS key, sum(r.tested), sum(r.passed), sum(r.failed)
FROM rollup_rows(%(first)s, %(last)s, {whole}) r {join}
WHERE r.region_code LIKE region_pattern(%(region)s)
  AND (%(category)s::text IS NULL OR r.category = %(category)s)
  AND (%(subcategory)s::text IS NULL OR r.subcategory = %(subcategory)s)
  AND (CASE WHEN %(sampling_type)s::text IS NULL THEN {in_totals_sql("r.sampling_type")}
            ELSE r.sampling_type = %(sampling_type)s END)
  AND (%(stage)s::text IS NULL OR r.stage = %(stage)s)
GROUP BY 1 HAVING sum(r.tested) > 0 ORDER BY 1
"""
    rows = conn.execute(
        sql.encode(),
        {
            "first": q.first,
            "last": q.last,
            "region": q.region,
            "category": q.category,
            "subcategory": q.subcategory,
            "sampling_type": q.sampling_type,
            "stage": q.stage,
        },
    ).fetchall()
    out = []
    for key, tested, passed, failed in rows:
        n = int(tested)
        item: dict[str, Any] = {
            "key": key,
            "tested": n,
            "passed": int(passed),
            "failed": int(failed),
            "pass_rate": rate(int(passed), n),
            "fail_rate": rate(int(failed), n),
        }
        if q.group_by == "region":
            item["region_name"] = name_of(key)
        out.append(item)
    return out


_EVALUATIONS = """
SELECT plan_id, indicator_id, region_code, subcategory, window_name, first_day, last_day, tested, failed, value, low,
    high, op, target, state, evaluated_at
FROM indicator_evaluations
WHERE plan_id = %(plan)s AND (%(indicator)s::text IS NULL OR indicator_id = %(indicator)s)
  AND (%(region)s::text IS NULL OR region_code = %(region)s) AND (%(window)s::text IS NULL OR window_name = %(window)s)
  AND indicator_id <> ALL(%(hidden)s::text[])
  AND (plan_id, indicator_id, region_code, subcategory, window_name) > (%(k0)s, %(k1)s, %(k2)s, %(k3)s, %(k4)s)
ORDER BY plan_id, indicator_id, region_code, subcategory, window_name
LIMIT %(limit)s
"""
EVALUATION_KEYS = ("plan_id", "indicator_id", "region_code", "subcategory", "window")


def evaluations(
    conn: psycopg.Connection,
    plan: str,
    indicator: str | None,
    region: str | None,
    window: str | None,
    after: list[Any] | None,
    limit: int,
    hidden: list[str] | None = None,
) -> list[dict[str, Any]]:
    key = after or ["", "", "", "", ""]
    rows = conn.execute(
        _EVALUATIONS,
        {
            "plan": plan,
            "indicator": indicator,
            "region": region,
            "window": window,
            "k0": key[0],
            "k1": key[1],
            "k2": key[2],
            "k3": key[3],
            "k4": key[4],
            "limit": limit,
            "hidden": hidden or [],
        },
    ).fetchall()
    return [
        {
            "plan_id": p,
            "indicator_id": i,
            "region_code": r,
            "region_name": name_of(r),
            "subcategory": s,
            "window": w,
            "first_day": f,
            "last_day": la,
            "samples": int(t),
            "failed": int(fa),
            "value": v,
            "low": lo,
            "high": hi,
            "op": op,
            "target": tg,
            "state": st,
            "evaluated_at": at,
        }
        for p, i, r, s, w, f, la, t, fa, v, lo, hi, op, tg, st, at in rows
    ]


def evaluation_series(
    conn: psycopg.Connection, plan: Plan, indicator_id: str, region: str, first: date, last: date, *, timezone: str
) -> list[dict[str, Any]]:
    """The indicator month by month, as the monthly report's 趋势 computes it (indicators.evaluate)."""
    from indicators.evaluate import Scope

    indicator = plan.indicator(indicator_id)
    out = []
    year, month = first.year, first.month
    while date(year, month, 1) <= last:
        days = month_range(year, month)
        counts = fetch_counts(conn, plan, indicator, days, timezone=timezone).get(Scope(region))
        samples, value, interval = measured(indicator, counts) if counts else (0, None, None)
        out.append(
            {
                "month": days.first,
                "samples": samples,
                "failed": counts.failed if counts else 0,
                "value": value,
                "low": interval.low if value is not None and interval else None,
                "high": interval.high if value is not None and interval else None,
            }
        )
        year, month = shift_month(year, month, 1)
    return out


_ALERTS = """
SELECT id, plan_id, indicator_id, region_code, subcategory, window_name, status, severity, opened_at, resolved_at,
    value, target, tested, failed
FROM alerts
WHERE (%(plan)s::text IS NULL OR plan_id = %(plan)s) AND (%(status)s::text IS NULL OR status = %(status)s)
  AND region_code LIKE region_pattern(%(region)s) AND id < %(before)s
ORDER BY id DESC LIMIT %(limit)s
"""


def alerts(
    conn: psycopg.Connection, plan: str | None, status: str | None, region: str, before: int | None, limit: int
) -> list[dict[str, Any]]:
    rows = conn.execute(
        _ALERTS, {"plan": plan, "status": status, "region": region, "before": before or 2**62, "limit": limit}
    ).fetchall()
    return [
        {
            "id": int(i),
            "plan_id": p,
            "indicator_id": ind,
            "region_code": r,
            "region_name": name_of(r),
            "subcategory": s,
            "window": w,
            "status": st,
            "severity": sev,
            "opened_at": o,
            "resolved_at": res,
            "value": v,
            "target": t,
            "samples": n,
            "failed": f,
        }
        for i, p, ind, r, s, w, st, sev, o, res, v, t, n, f in rows
    ]


_FAILURES = (
    """
SELECT f.day, f.sample_id, f.category, f.subcategory, f.sampling_type, f.region_code, r.manufacturer,
    r.manufacturer_address, r.sampled_unit, r.sampled_unit_address, r.product, r.spec, r.brand, r.batch,
    f.failed_items, r.announcement_no, r.announcement_date, r.task_source, r.lab, r.retest_status
FROM failure_current f
JOIN inspection_results r ON r.sample_id = f.sample_id AND r.revision = f.revision AND r.sampled_at = f.sampled_at
WHERE f.day BETWEEN %(first)s AND %(last)s AND f.region_code LIKE region_pattern(%(region)s)
  AND (%(category)s::text IS NULL OR f.category = %(category)s)
  AND (%(published)s = false OR in_totals(f.sampling_type))  -- indicators.counting.in_totals
  AND (%(published)s = false OR """
    + ANNOUNCED_SQL
    + """)  -- qsmon.publication: announced, no 复检 pending
  AND (f.day, f.sample_id) < (%(k0)s::date, %(k1)s)
ORDER BY f.day DESC, f.sample_id DESC
LIMIT %(limit)s OFFSET %(offset)s
"""
)


def failures(
    conn: psycopg.Connection,
    first: date,
    last: date,
    region: str,
    category: str | None,
    after: list[Any] | None,
    limit: int,
    *,
    published_only: bool,
    offset: int = 0,
    today: date,
) -> list[dict[str, Any]]:
    key = after or [date(9999, 12, 31), ""]
    rows = conn.execute(
        _FAILURES,
        {
            "first": first,
            "last": last,
            "region": region,
            "category": category,
            "published": published_only,
            "today": today,
            "k0": key[0],
            "k1": key[1],
            "limit": limit,
            "offset": offset,
        },
    ).fetchall()
    from qsmon.schema import FailedItem

    out = []
    for (
        day,
        sid,
        cat,
        sub,
        stype,
        region_code,
        mf,
        mf_addr,
        unit,
        unit_addr,
        product,
        spec,
        brand,
        batch,
        items,
        no,
        on,
        task,
        lab,
        retest,
    ) in rows:
        out.append(
            {
                "day": day,
                "sample_id": sid,
                "category": cat,
                "subcategory": sub,
                "sampling_type": stype,
                "region_code": region_code,
                "region_name": name_of(region_code),
                "manufacturer": mf,
                "manufacturer_address": mf_addr,
                "sampled_unit": unit,
                "sampled_unit_address": unit_addr,
                "product": product,
                "spec": spec,
                "brand": brand,
                "batch": batch,
                "failed_items": items_published(tuple(FailedItem.model_validate(i) for i in items)),
                "announcement_no": no,
                "announcement_date": on,
                "task_source": task,
                "lab": lab,
                "remark": label(RetestStatus(retest)) if retest else None,
            }
        )
    return out


_CASES = """
SELECT c.id, c.sample_id, c.category, c.region_code, c.product, c.firm, c.opened_on, c.status, c.closed_on,
    (SELECT min(s.due_on) FROM case_steps s WHERE s.case_id = c.id AND s.done_on IS NULL) AS next_due
FROM cases c
WHERE (%(status)s::text IS NULL OR c.status = %(status)s) AND c.region_code LIKE region_pattern(%(region)s)
  AND c.id > %(after)s
ORDER BY c.id LIMIT %(limit)s
"""


def cases(
    conn: psycopg.Connection, status: str | None, region: str, after: int | None, limit: int
) -> list[dict[str, Any]]:
    rows = conn.execute(_CASES, {"status": status, "region": region, "after": after or 0, "limit": limit}).fetchall()
    return [
        {
            "id": int(i),
            "sample_id": s,
            "category": cat,
            "region_code": r,
            "region_name": name_of(r),
            "product": p,
            "firm": f,
            "opened_on": o,
            "status": st,
            "closed_on": c,
            "next_due": nd,
        }
        for i, s, cat, r, p, f, o, st, c, nd in rows
    ]


def closed_months(
    conn: psycopg.Connection, plans: dict[str, Plan], since: date, hidden: set[tuple[str, str]], *, timezone: str
) -> list[dict[str, Any]]:
    """Every closed month's frozen figures from ``since`` (what was reported upward), each with the figure as it
    stands now when a late correction moved it (上报后更正, tracked a year back as the report does; else None).
    Figures of plans no longer loaded, and ``hidden`` (plan, indicator) pairs, are left out."""
    from reports.months import corrections

    rows = conn.execute(
        "SELECT f.month, c.closed_at, f.plan_id, f.indicator_id, f.region_code, f.samples, f.failed, f.value"
        " FROM month_reported_figures f JOIN month_closes c USING (month) WHERE f.month >= %s"
        " ORDER BY f.month, f.plan_id, f.indicator_id, f.region_code",
        (since,),
    ).fetchall()
    if not rows:
        return []
    latest = max(r[0] for r in rows)
    after = shift_month(latest.year, latest.month, 1)
    moved = {
        (c.month, plan_id, c.indicator.id, c.region_code): c
        for plan_id in {r[2] for r in rows}
        if plan_id in plans
        for c in corrections(conn, plans[plan_id], *after, timezone=timezone)
    }
    items = []
    for month, closed_at, plan_id, indicator_id, region, samples, failed, value in rows:
        plan = plans.get(plan_id)
        indicator = next((i for i in plan.indicators if i.id == indicator_id), None) if plan else None
        if plan is None or indicator is None or (plan_id, indicator_id) in hidden:
            continue
        correction = moved.get((month, plan_id, indicator_id, region))
        items.append(
            {
                "month": month.strftime("%Y-%m"),
                "closed_at": closed_at,
                "plan_id": plan_id,
                "indicator_id": indicator_id,
                "indicator_name": indicator.name,
                "measure": indicator.measure.value,
                "region_code": region,
                "jurisdiction": region == plan.jurisdiction.code,
                "samples": samples,
                "failed": failed,
                "value": value,
                "current": None
                if correction is None
                else {
                    "samples": correction.current.samples,
                    "failed": correction.current.failed,
                    "value": correction.current.value,
                },
            }
        )
    return items
