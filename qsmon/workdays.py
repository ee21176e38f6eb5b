"""The official Chinese calendar of working days: public holidays and the weekend days made working days (调休).

From the maintained chinese-calendar package, which carries each year once the State Council has published it.
Past its last year the calendar is unknown: :func:`is_workday` says so with a ConfigError instead of guessing.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import cache

import chinese_calendar

from qsmon.exceptions import ConfigError


@cache
def coverage() -> tuple[int, int]:
    """The first and last year the installed calendar knows."""
    try:
        chinese_calendar.is_workday(date(9999, 1, 1))
    except NotImplementedError as exc:
        years = [int(y) for y in re.findall(r"\d{4}", str(exc))]
        if len(years) >= 3:
            return years[-2], years[-1]
    raise ConfigError("cannot tell which years the Chinese calendar package covers")


def is_workday(day: date) -> bool:
    first, last = coverage()
    if not first <= day.year <= last:
        raise ConfigError(f"the Chinese working-day calendar covers {first}-{last}, not {day.year}: upgrade the"
                          " chinese-calendar package once the State Council has published that year's holidays",
                          day=day.isoformat())
    return bool(chinese_calendar.is_workday(day))


def add_working_days(start: date, count: int) -> tuple[date, bool]:
    """The ``count``-th working day after ``start`` (before it when negative; ``start`` itself when 0), and whether
    it is provisional: past the calendar's last year only weekends are known, so such a day is computed Monday to
    Friday and flagged."""
    _, last = coverage()
    step = timedelta(days=1 if count >= 0 else -1)
    day, provisional, remaining = start, False, abs(count)
    while remaining > 0:
        day += step
        if day.year > last:
            provisional = True
            working = day.weekday() < 5
        else:
            working = is_workday(day)
        remaining -= working
    return day, provisional


def coverage_warning(today: date, horizon_days: int = 60) -> str | None:
    """A start-up warning when deadlines from ``today`` may run past the calendar's last year."""
    _, last = coverage()
    if (date(last, 12, 31) - today).days < horizon_days:
        return (f"the Chinese working-day calendar ends with {last}: working-day deadlines past it are provisional "
                "(Monday to Friday) until the chinese-calendar package is upgraded")
    return None
