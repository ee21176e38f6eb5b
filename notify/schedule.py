"""Time in the duty officer's terms: named mute intervals (weekdays, hour ranges, non-working days on the Chinese
working-day calendar) and working hours (office hours of working days), for mute intervals and escalation."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qsmon import clock
from qsmon.exceptions import ConfigError
from qsmon.workdays import Calendar, is_workday

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def _parse(text: str) -> tuple[time, time]:
    match = _RANGE.match(text.strip())
    if not match:
        raise ValueError(f"hour range {text!r}: HH:MM-HH:MM, e.g. 18:00-08:30 (may cross midnight)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return time(h1 % 24, m1), time(h2 % 24, m2)


def workday(day: date, calendar: Calendar | None) -> bool:
    try:
        return is_workday(day, calendar)
    except ConfigError:  # past the calendar's years: weekdays, until it knows the year (qsmon workdays check)
        return day.weekday() < 5


class TimeInterval(BaseModel):
    """Like Alertmanager's time_intervals: active when the local time falls in one of ``hours`` on one of
    ``weekdays``, or (``non_working_days``) on a day the working-day calendar has off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    weekdays: tuple[Weekday, ...] = WEEKDAYS
    hours: tuple[str, ...] = ()  # "18:00-08:30"; empty: the whole of each of ``weekdays``, if no non_working_days
    non_working_days: bool = False

    @field_validator("hours")
    @classmethod
    def _ranges(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            _parse(text)
        return value

    def active(self, now: datetime, timezone: str, calendar: Calendar | None = None) -> bool:
        local = clock.local(now, timezone)
        if self.non_working_days and not workday(local.date(), calendar):
            return True
        if WEEKDAYS[local.weekday()] not in self.weekdays:
            return False
        if not self.hours:
            return not self.non_working_days
        t = local.time()
        for text in self.hours:
            start, end = _parse(text)
            if (start <= t < end) if start < end else (t >= start or t < end):
                return True
        return False


class OfficeHours(BaseModel):
    """The hours escalation counts: office hours of working days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time = time(8, 30)
    end: time = time(17, 30)


def working_hours_between(
    start: datetime, end: datetime, office: OfficeHours, timezone: str, calendar: Calendar | None = None
) -> float:
    """Office hours of working days between two instants, in hours."""
    if end <= start:
        return 0.0
    first, last = clock.local(start, timezone), clock.local(end, timezone)
    total = timedelta()
    day = first.date()
    while day <= last.date():
        if workday(day, calendar):
            opens = datetime.combine(day, office.start, first.tzinfo)
            closes = datetime.combine(day, office.end, first.tzinfo)
            lo, hi = max(opens, first), min(closes, last)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds() / 3600
