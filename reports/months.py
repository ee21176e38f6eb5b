"""Month close: freeze what was reported upward for a month, and find what late corrections changed since.

``qsmon months close YYYY-MM`` stores each plan's indicator figures for the month (the jurisdiction and every region
below it) as they stand; the monthly report of a later month lists every closed month whose figures have moved as
上报后更正 lines, and the dashboards show reported against current.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import psycopg

from indicators.evaluate import fetch_counts, measured
from indicators.windows import month_range, shift_month
from qsmon import clock
from qsmon.exceptions import QsmonError
from qsmon.plans.model import Indicator, Plan
from qsmon.regions import name_of

CORRECTION_MONTHS = 12  # how far back a report looks for corrections of closed months


class MonthAlreadyClosedError(QsmonError):
    """The month was closed before; closing it again must be asked for (after re-reporting it upward)."""


class MonthNotOverError(QsmonError):
    """The month has days still to come: its figures cannot have been reported upward yet."""


@dataclass(frozen=True, slots=True)
class MonthFigure:
    samples: int
    failed: int
    value: float | None


@dataclass(frozen=True, slots=True)
class Correction:
    """One closed month's figure for an indicator and region, as reported and as it stands now."""

    month: date
    indicator: Indicator
    region_code: str
    reported: MonthFigure
    current: MonthFigure

    @property
    def region_name(self) -> str:
        return name_of(self.region_code)

    @property
    def change(self) -> float | None:
        if self.reported.value is None or self.current.value is None:
            return None
        return self.current.value - self.reported.value


def _month_figures(
    conn: psycopg.Connection, plan: Plan, indicator: Indicator, first: date, *, timezone: str
) -> dict[str, MonthFigure]:
    """The indicator's figures for the month starting ``first``, per region (jurisdiction and below)."""
    figures = {}
    for scope, counts in fetch_counts(
        conn, plan, indicator, month_range(first.year, first.month), timezone=timezone
    ).items():
        if scope.subcategory:
            continue
        samples, value, _ = measured(indicator, counts)
        figures[scope.region_code] = MonthFigure(samples, counts.failed, value)
    return figures


def close_month(
    conn: psycopg.Connection,
    plans: Iterable[Plan],
    year: int,
    month: int,
    *,
    closed_by: str,
    note: str | None = None,
    again: bool = False,
    timezone: str,
) -> int:
    """Freeze every plan's figures for the month; returns how many were stored. ``again`` replaces an earlier
    close (the month was re-reported upward)."""
    first = date(year, month, 1)
    if month_range(year, month).last >= clock.today(timezone):
        raise MonthNotOverError(
            "the month is not over: close it once its figures are reported upward", month=first.strftime("%Y-%m")
        )
    with conn.transaction():
        if again:
            conn.execute("DELETE FROM month_closes WHERE month = %s", (first,))
        inserted = conn.execute(
            "INSERT INTO month_closes (month, closed_by, note) VALUES (%s, %s, %s)"
            " ON CONFLICT (month) DO NOTHING RETURNING month",
            (first, closed_by, note),
        ).fetchone()
        if inserted is None:
            raise MonthAlreadyClosedError(
                "the month is already closed; close it again only after re-reporting it", month=first.strftime("%Y-%m")
            )
        rows = [
            (first, plan.id, indicator.id, region, figure.samples, figure.failed, figure.value)
            for plan in plans
            if plan.period.start <= month_range(year, month).last
            for indicator in plan.indicators
            for region, figure in _month_figures(conn, plan, indicator, first, timezone=timezone).items()
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO month_reported_figures (month, plan_id, indicator_id, region_code, samples,"
                " failed, value) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
    return len(rows)


def closed_months(conn: psycopg.Connection) -> list[tuple[date, str, str | None, int]]:
    """(month, closed by, note, figures) of every closed month, latest first."""
    return [
        (m, by, note, int(n))
        for m, by, note, n in conn.execute(
            "SELECT c.month, c.closed_by, c.note, count(f.*) FROM month_closes c"
            " LEFT JOIN month_reported_figures f USING (month) GROUP BY c.month ORDER BY c.month DESC"
        )
    ]


def corrections(conn: psycopg.Connection, plan: Plan, year: int, month: int, *, timezone: str) -> list[Correction]:
    """Figures of the plan's closed months before ``year-month`` (up to a year back) that changed since the close:
    more or fewer samples, failures, or another value."""
    first = date(*shift_month(year, month, -CORRECTION_MONTHS), 1)
    reported: dict[tuple[date, str, str], MonthFigure] = {
        (m, indicator_id, region): MonthFigure(int(samples), int(failed), value)
        for m, indicator_id, region, samples, failed, value in conn.execute(
            "SELECT month, indicator_id, region_code, samples, failed, value FROM month_reported_figures"
            " WHERE plan_id = %s AND month >= %s AND month < %s ORDER BY month",
            (plan.id, first, date(year, month, 1)),
        )
    }
    found = []
    indicators = {i.id: i for i in plan.indicators}
    for closed in sorted({m for m, _, _ in reported}):
        for indicator_id, indicator in indicators.items():
            now = _month_figures(conn, plan, indicator, closed, timezone=timezone)
            regions = {r for m, i, r in reported if m == closed and i == indicator_id} | set(now)
            for region in sorted(regions):
                before = reported.get((closed, indicator_id, region), MonthFigure(0, 0, None))
                current = now.get(region, MonthFigure(0, 0, None))
                if not _same(before, current):
                    found.append(Correction(closed, indicator, region, before, current))
    return found


def _same(a: MonthFigure, b: MonthFigure) -> bool:
    """Equal counts and values within float noise (the stored value went through a double precision column)."""
    return (a.samples, a.failed) == (b.samples, b.failed) and (
        a.value == b.value or (a.value is not None and b.value is not None and abs(a.value - b.value) < 1e-9)
    )
