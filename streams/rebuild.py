"""Recompute rollups from the stored final verdicts; report, and fix, any difference.

The rollups are maintained incrementally by the worker; this is the repair tool and the audit that proves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg

_TRUTH = """
SELECT day, category, subcategory, sampling_type, stage, region_code, grade,
    count(*) AS tested,
    count(*) FILTER (WHERE verdict = 'pass') AS passed,
    count(*) FILTER (WHERE verdict = 'fail') AS failed,
    coalesce(sum(score::numeric), 0) AS score_sum,
    count(score) AS score_count,
    coalesce(sum(score::numeric * score::numeric), 0) AS score_sq_sum
FROM sample_current
WHERE day >= %(from_day)s
GROUP BY day, category, subcategory, sampling_type, stage, region_code, grade
"""

_DIFF = f"""
WITH truth AS ({_TRUTH}),
kept AS (
    SELECT day, category, subcategory, sampling_type, stage, region_code, grade,
        tested, passed, failed, score_sum, score_count, score_sq_sum
    FROM rollup_daily WHERE day >= %(from_day)s
)
SELECT coalesce(t.day, k.day), coalesce(t.category, k.category), coalesce(t.region_code, k.region_code),
    coalesce(t.tested, 0), coalesce(k.tested, 0), coalesce(t.passed, 0), coalesce(k.passed, 0)
FROM truth t FULL JOIN kept k USING (day, category, subcategory, sampling_type, stage, region_code, grade)
WHERE (t.tested, t.passed, t.failed, t.score_sum, t.score_count, t.score_sq_sum)
    IS DISTINCT FROM (k.tested, k.passed, k.failed, k.score_sum, k.score_count, k.score_sq_sum)
    AND NOT (t.day IS NULL AND k.tested = 0 AND k.passed = 0 AND k.failed = 0 AND k.score_count = 0)
ORDER BY 1, 2, 3
"""


@dataclass(frozen=True, slots=True)
class RollupDifference:
    day: date
    category: str
    region_code: str
    tested_truth: int
    tested_kept: int
    passed_truth: int
    passed_kept: int


def differences(conn: psycopg.Connection, from_day: date = date.min) -> list[RollupDifference]:
    return [RollupDifference(*row) for row in conn.execute(_DIFF, {"from_day": from_day}).fetchall()]


def rebuild(conn: psycopg.Connection, from_day: date = date.min) -> list[RollupDifference]:
    """Replace rollups from ``from_day`` on with the truth; returns what differed before."""
    with conn.transaction():
        # The worker writes rollups under partition locks; this lock keeps the rollup table still meanwhile.
        conn.execute("LOCK TABLE rollup_daily IN SHARE ROW EXCLUSIVE MODE")
        found = differences(conn, from_day)
        if found:
            conn.execute("DELETE FROM rollup_daily WHERE day >= %s", (from_day,))
            conn.execute(
                "INSERT INTO rollup_daily (day, category, subcategory, sampling_type, stage, region_code, grade,"
                " tested, passed, failed, score_sum, score_count, score_sq_sum) " + _TRUTH,
                {"from_day": from_day},
            )
    return found
