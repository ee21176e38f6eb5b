"""The plan year's pace per scope, from the database: budget, burn rates, drift and the year-end forecast.

Counts come only through :func:`indicators.evaluate.fetch_counts` (the indicator's own counting basis), one day
range at a time; the formulas are in :mod:`indicators.forecast` and :mod:`indicators.drift`. The plan year is the
calendar year (the assessment's), cut at the plan period's start.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import psycopg

from indicators.drift import (
    BASELINE_BLOCKS,
    BLOCK_DAYS,
    BLOCKS,
    Burn,
    Drift,
    baseline_rates,
    burns,
    drift,
)
from indicators.evaluate import Counts, Scope, fetch_counts, measured
from indicators.forecast import Forecast, Planned, failure_budget, planned_batches, season_factor, year_end_forecast
from indicators.labels import PACE_WINDOW
from indicators.windows import DayRange
from qsmon.plans.model import Indicator, Op, Plan
from qsmon.regions import name_of

__all__ = ["PACE_WINDOW", "PaceView", "applies", "forecast_row", "forecast_rows", "good_target", "pace_views"]

_GOOD_OPS = (Op.GE, Op.GT)  # the target bounds the share of "good" results from below
_BAD_OPS = (Op.LE, Op.LT)  # it bounds a failure or problem share from above: good = the rest


def applies(indicator: Indicator) -> bool:
    """Pace is judged for rate indicators with a fixed target."""
    return (
        indicator.measure.is_rate
        and indicator.target.value is not None
        and indicator.target.op in (*_GOOD_OPS, *_BAD_OPS)
    )


def good_target(indicator: Indicator) -> tuple[float, bool]:
    """The target as a share of good results (percent) and whether it is strict (> rather than ≥)."""
    value = indicator.target.value or 0.0
    if indicator.target.op in _GOOD_OPS:
        return value, indicator.target.op is Op.GT
    return 100 - value, indicator.target.op is Op.LT


def good_and_tested(indicator: Indicator, counts: Counts) -> tuple[int, int]:
    """(good results, results) as the indicator measures them (evaluate.measured is the one home of the measure)."""
    tested, value, _ = measured(indicator, counts)
    if value is None:
        return 0, 0
    hits = round(value * tested / 100)
    return (hits, tested) if indicator.target.op in _GOOD_OPS else (tested - hits, tested)


@dataclass(frozen=True, slots=True)
class PaceView:
    scope: Scope
    year: DayRange  # the plan year's days so far
    year_end: date
    target: float  # as a share of good results, percent
    strict: bool
    tested: int  # so far this year
    failed: int  # results not good so far
    planned: Planned
    budget: float  # failures the year may have
    forecast: Forecast
    burns: tuple[Burn, ...]
    drift: Drift | None  # None: too few batches in the chart's half year

    @property
    def budget_left(self) -> float:
        return self.budget - self.failed


def _year_earlier(day: date) -> date:
    return day.replace(year=day.year - 1) if (day.month, day.day) != (2, 29) else date(day.year - 1, 2, 28)


Fetch = Callable[[DayRange], dict[Scope, Counts]]


def _blocks(fetch: Fetch, last: date, count: int) -> list[dict[Scope, Counts]]:
    """Counts of ``count`` consecutive 7-day blocks, the newest ending on ``last`` (oldest first)."""
    return [
        fetch(DayRange(last - timedelta(days=BLOCK_DAYS * k + BLOCK_DAYS - 1), last - timedelta(days=BLOCK_DAYS * k)))
        for k in range(count - 1, -1, -1)
    ]


def pace_views(
    conn: psycopg.Connection, plan: Plan, indicator: Indicator, today: date, *, timezone: str, with_drift: bool = True
) -> list[PaceView]:
    """The pace of every scope the indicator is evaluated for (the jurisdiction, its regions, its breakdown).
    ``with_drift``: also the drift chart (64 of the ~70 day ranges read; what people read does without it)."""
    if not applies(indicator) or today < plan.period.start:
        return []
    pace = plan.pace

    def fetch(days: DayRange) -> dict[Scope, Counts]:
        return fetch_counts(conn, plan, indicator, days, timezone=timezone)

    year_start = max(date(today.year, 1, 1), plan.period.start)
    year_end = date(today.year, 12, 31)
    year = DayRange(year_start, today)
    so_far = fetch(year)
    last_year = fetch(DayRange(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)))
    recent = fetch(DayRange(today - timedelta(days=pace.evidence_days - 1), today))
    a_year_ago = _year_earlier(today)
    ly_recent = fetch(DayRange(a_year_ago - timedelta(days=pace.evidence_days - 1), a_year_ago))
    ly_rest = fetch(DayRange(a_year_ago + timedelta(days=1), _year_earlier(year_end))) if today < year_end else {}
    trailing = {
        days: fetch(DayRange(today - timedelta(days=days - 1), today))
        for days in sorted({d for rule in pace.burn_rules for d in (rule.long_days, rule.short_days)})
    }
    chart = _blocks(fetch, today, BLOCKS) if with_drift else []
    # Last year's blocks reach BASELINE_BLOCKS // 2 either side of the chart's, 52 weeks earlier (same weekdays).
    baseline = (
        _blocks(
            fetch,
            today - timedelta(days=52 * BLOCK_DAYS - BLOCK_DAYS * (BASELINE_BLOCKS // 2)),
            BLOCKS + 2 * (BASELINE_BLOCKS // 2),
        )
        if with_drift
        else []
    )
    target, strict = good_target(indicator)
    budget_rate = 1 - target / 100
    task = next((t for t in plan.sampling_tasks if t.filter == indicator.filter and t.per_year is not None), None)
    jurisdiction = Scope(plan.jurisdiction.code)
    days_in_year = 366 if calendar.isleap(today.year) else 365
    elapsed = year.days / days_in_year
    views = []
    for scope, counts in sorted(so_far.items()):
        good, tested = good_and_tested(indicator, counts)

        def pair(source: dict[Scope, Counts], scope: Scope = scope) -> tuple[int, int]:
            """(not good, results) of the scope in ``source``."""
            g, n = good_and_tested(indicator, source.get(scope, Counts()))
            return n - g, n

        last_n = pair(last_year)[1]
        whole_last = pair(last_year, jurisdiction)[1]
        whole_now = pair(so_far, jurisdiction)[1]
        # A region's share of the plan's task: its share of the jurisdiction's batches last year (else this year).
        share = (
            1.0
            if scope == jurisdiction
            else last_n / whole_last
            if whole_last
            else tested / whole_now
            if whole_now
            else None
        )
        planned = planned_batches(
            task_per_year=task.per_year if task else None, share=share, last_year=last_n, so_far=tested, elapsed=elapsed
        )
        if planned.batches == 0:
            continue  # nothing planned, nothing last year, nothing yet: no year to forecast
        recent_failed, recent_tested = pair(recent)
        season = season_factor(pair(ly_recent), pair(ly_rest)) if ly_rest else None
        forecast = year_end_forecast(
            target, tested, good, planned.batches - tested, recent_tested, recent_failed, strict=strict, season=season
        )
        burn = burns(pace.burn_rules, {days: pair(counts) for days, counts in trailing.items()}, target)
        chart_f = np.array([pair(block)[0] for block in chart], dtype=np.float64)
        chart_n = np.array([pair(block)[1] for block in chart], dtype=np.float64)
        base_f = np.array([pair(block)[0] for block in baseline], dtype=np.float64)
        base_n = np.array([pair(block)[1] for block in baseline], dtype=np.float64)
        p0 = baseline_rates(base_f, base_n, budget_rate)
        signal = (
            drift(
                chart_f,
                chart_n,
                p0,
                pace.drift_shift / 100,
                pace.drift_false_alarms_per_year,
                seasonal=bool((p0 != budget_rate).any()),
            )
            if with_drift and chart_n.sum() >= indicator.min_samples
            else None
        )
        views.append(
            PaceView(
                scope,
                year,
                year_end,
                target,
                strict,
                tested,
                tested - good,
                planned,
                failure_budget(target, planned.batches),
                forecast,
                tuple(burn),
                signal,
            )
        )
    return views


def forecast_rows(
    conn: psycopg.Connection,
    plan: Plan,
    today: date,
    *,
    timezone: str,
    indicator_id: str | None = None,
    region: str | None = None,
) -> list[dict[str, Any]]:
    """The year-end forecast of every rate indicator with a fixed target, per scope (or one indicator, one region),
    as the read API, `qsmon status` and the monthly report show it (达标预测). No drift chart: that is the alerts'."""
    rows = []
    for indicator in plan.indicators:
        if indicator_id is not None and indicator.id != indicator_id:
            continue
        for view in pace_views(conn, plan, indicator, today, timezone=timezone, with_drift=False):
            if region is not None and view.scope.region_code != region:
                continue
            rows.append(forecast_row(indicator, view))
    return rows


def forecast_row(indicator: Indicator, view: PaceView) -> dict[str, Any]:
    """One scope's forecast in the indicator's own measure (a failure share for ≤ / < targets)."""
    good = indicator.target.op in _GOOD_OPS
    f = view.forecast

    def measure(share: float | None) -> float | None:
        return None if share is None or math.isnan(share) else share if good else 100 - share

    low, high = measure(f.low), measure(f.high)
    burn = {f"burn_{b.rule.long_days}d": b.long_rate for b in view.burns} | {
        f"burn_{b.rule.short_days}d": b.short_rate for b in view.burns
    }
    return {
        "indicator_id": indicator.id,
        "indicator_name": indicator.name,
        "region_code": view.scope.region_code,
        "region_name": name_of(view.scope.region_code),
        "subcategory": view.scope.subcategory,
        "op": indicator.target.op.value,
        "target": indicator.target.value,
        "first_day": view.year.first,
        "last_day": view.year.last,
        "year_end": view.year_end,
        "tested": view.tested,
        "failed": view.failed,
        "so_far": measure(100 * (view.tested - view.failed) / view.tested) if view.tested else None,
        "planned": view.planned.batches,
        "planned_source": view.planned.source.value,
        "planned_text": view.planned.text,
        "budget": round(view.budget, 1),
        "budget_left": round(view.budget_left, 1),
        "needed": measure(f.needed),
        "projected": measure(f.projected),
        "low": None if low is None or high is None else min(low, high),
        "high": None if low is None or high is None else max(low, high),
        "probability": None if math.isnan(f.probability) else f.probability,
        "outcome": f.outcome.value,
        **burn,
    }
