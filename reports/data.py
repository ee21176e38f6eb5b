"""Everything the monthly report shows, computed once from the rollups and the stored results.

The same numbers feed the workbook, the PDF and the CSV files, so they cannot disagree. Months without samples
stay empty (None), never zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from indicators.counting import in_totals_sql, points, rate
from indicators.evaluate import Scope, fetch_counts, judge
from indicators.pace import forecast_rows
from indicators.stats import State
from indicators.windows import DayRange, month_range, previous_range, shift_month
from qsmon import clock
from qsmon.completeness import MonthCompleteness, month_completeness
from qsmon.plans.model import Indicator, Measure, Op, Plan
from qsmon.regions import like_pattern, name_of
from qsmon.schema import FailedItem
from qsmon.vocab import Category
from reports.bulletin import Bulletin, ReferenceFigure, gather_bulletin
from reports.months import Correction, corrections
from reports.published import PublishedFailure, published_failures
from reports.tasks import Population, TaskRow, task_progress


@dataclass(frozen=True, slots=True)
class Figure:
    """One indicator over one period."""

    samples: int
    failed: int
    value: float | None
    low: float | None
    high: float | None
    state: State


@dataclass(frozen=True, slots=True)
class IndicatorRow:
    indicator: Indicator
    month: Figure
    year_to_date: Figure
    previous_month: Figure
    same_month_last_year: Figure

    @property
    def state(self) -> State:
        return self.month.state

    @property
    def change_vs_previous(self) -> Decimal | None:
        return points(self.month.value, self.previous_month.value)

    @property
    def change_vs_last_year(self) -> Decimal | None:
        return points(self.month.value, self.same_month_last_year.value)


@dataclass(frozen=True, slots=True)
class RegionRow:
    indicator: Indicator
    region_code: str
    region_name: str
    figure: Figure

    @property
    def shortfall(self) -> Decimal | None:
        """Percentage points below (+) or above (−) the target, from the value as shown; None without a value or a
        fixed target."""
        target = self.indicator.target.value
        lower_is_better = self.indicator.target.op in (Op.LE, Op.LT)
        return points(self.figure.value, target) if lower_is_better else points(target, self.figure.value)


@dataclass(frozen=True, slots=True)
class CategoryRow:
    category: Category
    subcategory: str
    tested: int
    passed: int
    failed: int

    @property
    def pass_rate(self) -> float | None:
        return rate(self.passed, self.tested)


@dataclass(frozen=True, slots=True)
class FailedSample:
    sample_id: str
    day: date
    category: Category
    subcategory: str
    sampling_type: str
    product: str
    region: str
    manufacturer: str
    sampled_unit: str
    lab: str
    items: tuple[FailedItem, ...]


@dataclass(frozen=True, slots=True)
class AlertRow:
    alert_id: int
    indicator: str
    region: str
    window: str
    severity: State
    opened_at: str
    resolved_at: str
    open_at_month_end: bool


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One bureau's follow-up of failed samples in the month (核查处置)."""

    region: str
    opened: int
    closed: int
    closed_on_time: int
    overturned: int
    open_at_month_end: int
    overdue_at_month_end: int


@dataclass
class MonthlyReport:
    plan: Plan
    year: int
    month: int
    indicators: list[IndicatorRow] = field(default_factory=list)
    trend_months: list[tuple[int, int]] = field(default_factory=list)
    trends: dict[str, list[Figure]] = field(default_factory=dict)
    regions: list[RegionRow] = field(default_factory=list)
    categories: list[CategoryRow] = field(default_factory=list)
    failures: list[FailedSample] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)
    cases: list[CaseRow] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)  # closed months' figures moved since
    bulletin: Bulletin = field(default_factory=Bulletin)
    published: list[PublishedFailure] = field(default_factory=list)  # 不合格产品信息, the published layout
    tasks: list[TaskRow] = field(default_factory=list)  # sampling volumes: done against due
    forecast: list[dict[str, Any]] = field(default_factory=list)  # 年度达标预测 as of the month's end (indicators.pace)
    completeness: MonthCompleteness | None = None  # 数据完整性 of the jurisdiction's month (qsmon.completeness)

    @property
    def label(self) -> str:
        return f"{self.year}年{self.month}月"

    @property
    def month_range(self) -> DayRange:
        return month_range(self.year, self.month)


def _figure(
    conn: psycopg.Connection,
    plan: Plan,
    indicator: Indicator,
    days: DayRange,
    previous: DayRange | None = None,
    *,
    timezone: str,
) -> Figure:
    jurisdiction = Scope(plan.jurisdiction.code)
    counts = fetch_counts(conn, plan, indicator, days, timezone=timezone)
    before = fetch_counts(conn, plan, indicator, previous, timezone=timezone).get(jurisdiction) if previous else None
    samples, value, interval, _, state = judge(indicator, counts[jurisdiction], before)
    return Figure(
        samples,
        counts[jurisdiction].failed,
        value,
        interval.low if value is not None else None,
        interval.high if value is not None else None,
        state,
    )


def _region_rows(
    conn: psycopg.Connection, plan: Plan, indicator: Indicator, days: DayRange, *, timezone: str
) -> list[RegionRow]:
    if indicator.measure is Measure.MEAN_SCORE:
        return []
    rows = []
    for scope, counts in fetch_counts(conn, plan, indicator, days, timezone=timezone).items():
        if scope.subcategory or scope.region_code == plan.jurisdiction.region_code:
            continue
        samples, value, interval, _, state = judge(indicator, counts, None)
        if samples:
            rows.append(
                RegionRow(
                    indicator,
                    scope.region_code,
                    name_of(scope.region_code),
                    Figure(samples, counts.failed, value, interval.low, interval.high, state),
                )
            )
    return rows


# Results in totals only (indicators.counting.in_totals): risk monitoring's problem samples are not 不合格.
_CATEGORIES = f"""
SELECT category, subcategory, sum(tested), sum(passed), sum(failed) FROM rollup_rows(%s, %s)
WHERE region_code LIKE %s AND {in_totals_sql()}
GROUP BY category, subcategory HAVING sum(tested) > 0 ORDER BY category, subcategory
"""

_FAILURES = f"""
SELECT sample_id, day, category, subcategory, sampling_type, coalesce(product, ''), region_code,
    coalesce(manufacturer, ''), coalesce(sampled_unit, ''), coalesce(lab, ''), failed_items
FROM failure_current
WHERE day BETWEEN %s AND %s AND region_code LIKE %s AND {in_totals_sql()}
ORDER BY day, sample_id
"""

_ALERTS = """
SELECT id, indicator_id, region_code, window_name, severity, opened_at, resolved_at
FROM alerts
WHERE plan_id = %(plan)s AND opened_at < %(end)s AND (resolved_at IS NULL OR resolved_at >= %(start)s)
ORDER BY opened_at, id
"""


# Steps as they stood at the month's end: one done later counts as not done then. case_step_state() is
# cases.deadlines.step_state's SQL twin.
_STEP_AT_END = "case_step_state(CASE WHEN s.done_on <= %(last)s THEN s.done_on END, s.due_on, s.soon_on, %(last)s)"
_CASES = f"""
SELECT c.region_code,
    count(*) FILTER (WHERE c.opened_on BETWEEN %(first)s AND %(last)s),
    count(*) FILTER (WHERE c.status = 'closed' AND c.closed_on BETWEEN %(first)s AND %(last)s),
    count(*) FILTER (WHERE c.status = 'closed' AND c.closed_on BETWEEN %(first)s AND %(last)s
                     AND NOT EXISTS (SELECT 1 FROM case_steps s WHERE s.case_id = c.id AND s.done_on > s.due_on)),
    count(*) FILTER (WHERE c.status = 'overturned' AND c.closed_on BETWEEN %(first)s AND %(last)s),
    count(*) FILTER (WHERE c.opened_on <= %(last)s AND (c.closed_on IS NULL OR c.closed_on > %(last)s)),
    count(*) FILTER (WHERE c.opened_on <= %(last)s AND (c.closed_on IS NULL OR c.closed_on > %(last)s)
                     AND EXISTS (SELECT 1 FROM case_steps s WHERE s.case_id = c.id AND {_STEP_AT_END} = 'overdue'))
FROM cases c
WHERE c.region_code LIKE %(pattern)s AND c.opened_on <= %(last)s
GROUP BY c.region_code ORDER BY c.region_code
"""


def gather(
    conn: psycopg.Connection,
    plan: Plan,
    year: int,
    month: int,
    *,
    timezone: str,
    references: tuple[ReferenceFigure, ...] = (),
    population: Population | None = None,
) -> MonthlyReport:
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    report = MonthlyReport(plan, year, month)
    this = month_range(year, month)
    ytd = DayRange(date(year, 1, 1), this.last)
    previous = month_range(*shift_month(year, month, -1))
    last_year = month_range(year - 1, month)
    report.trend_months = [shift_month(year, month, -k) for k in range(12, -1, -1)]
    for indicator in plan.indicators:
        increasing = indicator.target.op is Op.INCREASING
        compare = indicator.target.compare
        report.indicators.append(
            IndicatorRow(
                indicator,
                _figure(
                    conn,
                    plan,
                    indicator,
                    this,
                    previous_range("month_to_date", this, compare) if increasing else None,
                    timezone=timezone,
                ),
                _figure(
                    conn,
                    plan,
                    indicator,
                    ytd,
                    previous_range("year_to_date", ytd, compare) if increasing else None,
                    timezone=timezone,
                ),
                _figure(conn, plan, indicator, previous, timezone=timezone),
                _figure(conn, plan, indicator, last_year, timezone=timezone),
            )
        )
        report.trends[indicator.id] = [
            _figure(conn, plan, indicator, month_range(y, m), timezone=timezone) for y, m in report.trend_months
        ]
        report.regions.extend(_region_rows(conn, plan, indicator, this, timezone=timezone))
    report.regions.sort(key=lambda r: (-(r.shortfall if r.shortfall is not None else -1e9), r.region_code))
    prefix = like_pattern(plan.jurisdiction.code)
    report.categories = [
        CategoryRow(Category(c), s, int(t), int(p), int(f))
        for c, s, t, p, f in conn.execute(_CATEGORIES, (this.first, this.last, prefix))
    ]
    report.failures = [
        FailedSample(
            sid,
            day,
            Category(cat),
            sub,
            stype,
            product,
            name_of(region),
            manufacturer,
            unit,
            lab,
            tuple(FailedItem.model_validate(item) for item in items),
        )
        for sid, day, cat, sub, stype, product, region, manufacturer, unit, lab, items in conn.execute(
            _FAILURES, (this.first, this.last, prefix)
        )
    ]
    report.cases = [
        CaseRow(name_of(region), *map(int, counts))
        for region, *counts in conn.execute(_CASES, {"first": this.first, "last": this.last, "pattern": prefix})
    ]
    report.corrections = corrections(conn, plan, year, month, timezone=timezone)
    report.bulletin = gather_bulletin(conn, prefix, year, month, references)
    report.published = published_failures(conn, this.first, this.last, prefix)
    report.tasks = task_progress(conn, plan, year, month, population)
    report.forecast = forecast_rows(conn, plan, this.last, timezone=timezone)
    report.completeness = month_completeness(conn, plan.jurisdiction.code, this.first, clock.today(timezone))
    zone = ZoneInfo(timezone)
    start = datetime.combine(this.first, time(), zone)
    end = datetime.combine(this.last, time(23, 59, 59, 999999), zone)
    for alert_id, indicator_id, region, window, severity, opened, resolved in conn.execute(
        _ALERTS, {"plan": plan.id, "start": start, "end": end}
    ):
        open_at_end = resolved is None or resolved > end
        report.alerts.append(
            AlertRow(
                int(alert_id),
                plan.indicator(indicator_id).name if indicator_id in {i.id for i in plan.indicators} else indicator_id,
                name_of(region),
                window,
                State(severity),
                opened.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                resolved.astimezone(zone).strftime("%Y-%m-%d %H:%M") if resolved else "",
                open_at_end,
            )
        )
    return report
