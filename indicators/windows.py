"""The windows indicators are evaluated over, as ranges of local (Asia/Shanghai) calendar days."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from qsmon.plans.model import Compare, Period, rolling_days


@dataclass(frozen=True, slots=True)
class DayRange:
    first: date
    last: date  # inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> DayRange:
        """The period of equal length just before this one (for `increasing`)."""
        return DayRange(self.first - timedelta(days=self.days), self.first - timedelta(days=1))


def month_range(year: int, month: int) -> DayRange:
    return DayRange(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def window_range(window: str, today: date, period: Period) -> DayRange | None:
    """Days of ``window`` as of ``today``; None when the window lies outside the plan period entirely."""
    days = rolling_days(window)
    if days is not None:
        return DayRange(today - timedelta(days=days - 1), today)
    if window == "month_to_date":
        return DayRange(today.replace(day=1), today)
    if window == "quarter_to_date":
        return DayRange(_quarter_start(today), today)
    if window == "year_to_date":
        return DayRange(date(today.year, 1, 1), today)
    if window == "plan_period":
        if today < period.start:
            return None
        return DayRange(period.start, min(period.end, today))
    raise ValueError(f"unknown window {window!r}")


def _year_earlier(day: date) -> date:
    return day.replace(year=day.year - 1) if (day.month, day.day) != (2, 29) else date(day.year - 1, 2, 28)


def previous_range(window: str, current: DayRange, compare: Compare = Compare.PREVIOUS_PERIOD) -> DayRange:
    """What an `increasing` target compares ``current`` with.

    ``previous_period``: a calendar window that has reached its period's last day compares with the whole previous
    month, quarter or year (31 March with all of February, never with 1-3 March); one still running takes the same
    number of days from the previous period's start, cut at its end. Rolling windows and the plan period take the
    equal span just before. ``year_on_year``: the same dates a year earlier (29 February: the 28th).
    """
    if compare is Compare.YEAR_ON_YEAR:
        return DayRange(_year_earlier(current.first), _year_earlier(current.last))
    if window in ("month_to_date", "quarter_to_date", "year_to_date"):
        end = current.first - timedelta(days=1)  # the previous period's last day
        start = _period_start(window, end)
        if _period_start(window, current.last + timedelta(days=1)) != current.first:
            return DayRange(start, end)  # a whole period compares with the whole period before
        return DayRange(start, min(end, start + timedelta(days=current.days - 1)))
    return current.previous()


def _period_start(window: str, day: date) -> date:
    """The first day of the month, quarter or year (by the calendar window's name) that holds ``day``."""
    return {
        "month_to_date": day.replace(day=1),
        "quarter_to_date": _quarter_start(day),
        "year_to_date": date(day.year, 1, 1),
    }[window]
