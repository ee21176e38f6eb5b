"""Evaluating an indicator: counts from the rollups, per scope, to a value, an interval and a state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import psycopg

from indicators.counting import filter_params, filter_sql, hits, rate
from indicators.stats import (
    Interval,
    State,
    mean_drop_z,
    mean_interval,
    proportion_drop_z,
    state_against_target,
    state_of_trend,
    wilson,
)
from indicators.windows import DayRange, previous_range, window_range
from qsmon.plans.counting import Counting
from qsmon.plans.model import Indicator, Measure, Op, Plan
from qsmon.regions import children, is_within, like_pattern


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    region_code: str
    subcategory: str = ""  # '' = every subcategory the filter admits


@dataclass(slots=True)
class Counts:
    tested: int = 0
    passed: int = 0
    failed: int = 0
    graded: int = 0  # results reaching one of the indicator's grades
    score_sum: float = 0.0
    score_count: int = 0
    score_sq_sum: float = 0.0

    def add(self, other: Counts) -> None:
        self.tested += other.tested
        self.passed += other.passed
        self.failed += other.failed
        self.graded += other.graded
        self.score_sum += other.score_sum
        self.score_count += other.score_count
        self.score_sq_sum += other.score_sq_sum


@dataclass(frozen=True, slots=True)
class Evaluation:
    plan_id: str
    indicator_id: str
    scope: Scope
    window: str
    days: DayRange
    samples: int
    failed: int
    value: float | None
    interval: Interval
    op: Op
    target: float | None
    previous_value: float | None
    state: State
    severity: str = field(default="warning")  # the indicator's severity, for routing

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.plan_id, self.indicator_id, self.scope.region_code, self.scope.subcategory, self.window)


def _hits(indicator: Indicator, counts: Counts) -> int:
    return hits(indicator.measure, passed=counts.passed, failed=counts.failed, graded=counts.graded)


def measured(indicator: Indicator, counts: Counts) -> tuple[int, float | None, Interval]:
    """(samples, value, 95 % interval) of the indicator's measure over ``counts``."""
    if indicator.measure is Measure.MEAN_SCORE:
        n = counts.score_count
        if n == 0:
            return 0, None, Interval(0.0, 100.0)
        return n, counts.score_sum / n, mean_interval(counts.score_sum, counts.score_sq_sum, n)
    n, hit = counts.tested, _hits(indicator, counts)
    value = rate(hit, n)
    if value is None:
        return 0, None, Interval(0.0, 100.0)
    return n, value, wilson(hit, n)


def _trend_z(indicator: Indicator, now: Counts, before: Counts) -> float:
    if indicator.measure is Measure.MEAN_SCORE:

        def stats(c: Counts) -> tuple[float, float, int]:
            n = c.score_count
            mean = c.score_sum / n if n else 0.0
            var = (c.score_sq_sum - n * mean * mean) / (n - 1) if n > 1 else 0.0
            return mean, max(0.0, var), n

        return mean_drop_z(*stats(now), *stats(before))
    return proportion_drop_z(_hits(indicator, now), now.tested, _hits(indicator, before), before.tested)


def judge(
    indicator: Indicator, now: Counts, before: Counts | None
) -> tuple[int, float | None, Interval, float | None, State]:
    samples, value, interval = measured(indicator, now)
    if value is None or samples < indicator.min_samples:
        return samples, value, interval, None, State.INSUFFICIENT_DATA
    if indicator.target.op is Op.INCREASING:
        if before is None:
            return samples, value, interval, None, State.INSUFFICIENT_DATA
        before_samples, before_value, _ = measured(indicator, before)
        if before_value is None or before_samples < indicator.min_samples:
            return samples, value, interval, before_value, State.INSUFFICIENT_DATA
        return (
            samples,
            value,
            interval,
            before_value,
            state_of_trend(value, before_value, _trend_z(indicator, now, before)),
        )
    target = indicator.target.value if indicator.target.value is not None else 0.0  # set: Target validates it
    return samples, value, interval, None, state_against_target(value, interval, indicator.target.op, target)


def _counts_sql(counting: Counting) -> str:
    return f"""
SELECT region_code, subcategory, sum(tested), sum(passed), sum(failed),
    coalesce(sum(tested) FILTER (WHERE grade = ANY(%(grades)s)), 0),
    sum(score_sum), sum(score_count), sum(score_sq_sum)
FROM {counting.rows_sql()}
WHERE {filter_sql()} AND region_code LIKE %(prefix)s
GROUP BY region_code, subcategory
"""


def fetch_counts(
    conn: psycopg.Connection, plan: Plan, indicator: Indicator, days: DayRange, *, timezone: str
) -> dict[Scope, Counts]:
    """Counts for the jurisdiction, each region below it, and each subcategory where a breakdown is asked, on the
    indicator's counting basis (``timezone`` makes local days of report times)."""
    jurisdiction = plan.jurisdiction.code
    counting = Counting.of(plan, indicator)
    rows = conn.execute(
        _counts_sql(counting),
        {
            "first": days.first,
            "last": days.last,
            "grades": [g.value for g in indicator.grades],
            "prefix": like_pattern(jurisdiction),
            **filter_params(indicator.filter),
            **counting.params(timezone),
        },
    ).fetchall()
    counties = [r.code for r in children(jurisdiction)]
    scopes: dict[Scope, Counts] = {Scope(jurisdiction): Counts()}
    scopes.update({Scope(code): Counts() for code in counties})
    breakdown = "subcategory" in indicator.breakdown
    for region, subcategory, tested, passed, failed, graded, score_sum, score_count, score_sq in rows:
        counts = Counts(
            int(tested),
            int(passed),
            int(failed),
            int(graded),
            float(score_sum or 0),
            int(score_count or 0),
            float(score_sq or 0),
        )
        scopes[Scope(jurisdiction)].add(counts)
        for county in counties:
            if is_within(region, county):
                scopes[Scope(county)].add(counts)
        if breakdown and subcategory:
            scopes.setdefault(Scope(jurisdiction, subcategory), Counts()).add(counts)
    return scopes


def evaluate_indicator(
    conn: psycopg.Connection,
    plan: Plan,
    indicator: Indicator,
    today: date,
    windows: tuple[str, ...] | None = None,
    *,
    timezone: str,
) -> list[Evaluation]:
    evaluations = []
    for window in windows or indicator.windows:
        days = window_range(window, today, plan.period)
        if days is None:
            continue
        now = fetch_counts(conn, plan, indicator, days, timezone=timezone)
        before = (
            fetch_counts(
                conn, plan, indicator, previous_range(window, days, indicator.target.compare), timezone=timezone
            )
            if indicator.target.op is Op.INCREASING
            else {}
        )
        for scope, counts in sorted(now.items()):
            samples, value, interval, previous, state = judge(indicator, counts, before.get(scope))
            evaluations.append(
                Evaluation(
                    plan.id,
                    indicator.id,
                    scope,
                    window,
                    days,
                    samples,
                    counts.failed,
                    value,
                    interval,
                    indicator.target.op,
                    indicator.target.value,
                    previous,
                    state,
                    indicator.severity.value,
                )
            )
    return evaluations
