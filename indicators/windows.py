"""The windows indicators are evaluated over, as ranges of local (Asia/Shanghai) calendar days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from qsmon.plans.model import Period, rolling_days


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


def previous_range(window: str, current: DayRange) -> DayRange:
    """The comparison period of `increasing`: the same calendar span one period earlier where it has one."""
    if window == "month_to_date":
        start = (current.first - timedelta(days=1)).replace(day=1)
        return DayRange(start, start + timedelta(days=current.days - 1))
    if window == "quarter_to_date":
        start = _quarter_start(current.first - timedelta(days=1))
        return DayRange(start, start + timedelta(days=current.days - 1))
    if window == "year_to_date":
        start = date(current.first.year - 1, 1, 1)
        return DayRange(start, start + timedelta(days=current.days - 1))
    return current.previous()
