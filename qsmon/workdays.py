"""The official Chinese calendar of working days: public holidays and the weekend days made working days (调休).

From the maintained chinese-calendar package, which carries each year once the State Council has published it.
Past its last year the calendar is unknown: :func:`is_workday` says so with a ConfigError instead of guessing.
"""

from __future__ import annotations

import re
from datetime import date
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
