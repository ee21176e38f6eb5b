"""The official Chinese calendar of working days: public holidays and the weekend days made working days (调休).

Two sources, read side by side: the maintained chinese-calendar package, which carries each year once the State
Council has published it and a release follows, and the bureau's own ``workdays`` file (QSMON_WORKDAYS_FILE),
where a year is added from the State Council's notice (国务院办公厅关于某年部分节假日安排的通知) the day it is
published, without waiting for a release. A year the file lists is read from the file. Past the years known, a
working-day deadline is computed Monday to Friday and flagged provisional; from 1 November, next year missing is a
warning (``qsmon workdays check``, the alert service's log and ``qsmon_workdays_next_year_missing``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib.metadata import version
from pathlib import Path

import chinese_calendar
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from qsmon.exceptions import ConfigError

WARN_FROM_MONTH = 11  # the State Council publishes next year's arrangement in the autumn: missing from 1 November


class HolidaySpan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1)  # 元旦, 春节, ...
    from_: date = Field(alias="from")
    to: date

    def days(self) -> Iterator[date]:
        day = self.from_
        while day <= self.to:
            yield day
            day += timedelta(days=1)


class MakeUpDay(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)  # the holiday it makes up for
    day: date  # not `on`: YAML 1.1 reads an unquoted `on` as true


class YearArrangement(BaseModel):
    """One year's 放假调休 arrangement, as its notice gives it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    notice: str = Field(min_length=1)  # the notice's title
    published_on: date
    document_no: str | None = None  # 国办发明电〔…〕…号, when known
    holidays: tuple[HolidaySpan, ...] = Field(min_length=1)
    workdays: tuple[MakeUpDay, ...] = ()  # weekend days made working days (调休上班)


class WorkdaysFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    years: dict[int, YearArrangement] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> WorkdaysFile:
        for year, arrangement in self.years.items():
            off: set[date] = set()
            for span in arrangement.holidays:
                if span.to < span.from_:
                    raise ValueError(f"{year} {span.name}: ends ({span.to}) before it starts ({span.from_})")
                if span.from_.year != year or span.to.year != year:
                    raise ValueError(f"{year} {span.name}: {span.from_}..{span.to} is not in {year}")
                off.update(span.days())
            for made in arrangement.workdays:
                if made.day.year != year:
                    raise ValueError(f"{year} {made.name}: make-up working day {made.day} is not in {year}")
                if made.day.weekday() < 5:
                    raise ValueError(f"{year} {made.name}: make-up working day {made.day} is not a weekend day")
                if made.day in off:
                    raise ValueError(f"{year} {made.name}: {made.day} is both a holiday and a working day")
        return self


@dataclass(frozen=True, slots=True)
class KnownYear:
    year: int
    source: str  # "chinese-calendar 1.11.0", or the file and its notice


class Calendar:
    """Working days from the package's years and the file's; ``is_workday`` refuses a year neither knows."""

    def __init__(
        self,
        arrangements: Mapping[int, YearArrangement] | None = None,
        *,
        path: Path | None = None,
        package_years: tuple[int, int] | None = None,
    ) -> None:
        self.path = path
        self.arrangements = dict(arrangements or {})
        self.package_years = package_years or package_coverage()
        self._off: dict[int, frozenset[date]] = {
            y: frozenset(d for s in a.holidays for d in s.days()) for y, a in self.arrangements.items()
        }
        self._on: dict[int, frozenset[date]] = {
            y: frozenset(m.day for m in a.workdays) for y, a in self.arrangements.items()
        }

    def known(self, year: int) -> bool:
        first, last = self.package_years
        return year in self.arrangements or first <= year <= last

    def known_years(self) -> list[KnownYear]:
        first, last = self.package_years
        package = f"chinese-calendar {version('chinese-calendar')}"
        years = dict.fromkeys(range(first, last + 1), package)
        for y, a in self.arrangements.items():
            years[y] = f"{self.path or 'workdays file'}: {a.notice}({a.published_on.isoformat()})"
        return [KnownYear(y, years[y]) for y in sorted(years)]

    @property
    def last_year(self) -> int:
        """The last year known without a gap from the package's years."""
        year = self.package_years[1]
        while self.known(year + 1):
            year += 1
        return year

    def is_workday(self, day: date) -> bool:
        if day.year in self.arrangements:
            return day in self._on[day.year] or (day.weekday() < 5 and day not in self._off[day.year])
        first, last = self.package_years
        if not first <= day.year <= last:
            raise ConfigError(
                f"the Chinese working-day calendar does not know {day.year}: add it to the workdays "
                "file (QSMON_WORKDAYS_FILE) from the State Council's notice, or upgrade the "
                "chinese-calendar package",
                day=day.isoformat(),
            )
        return bool(chinese_calendar.is_workday(day))

    def add_working_days(self, start: date, count: int) -> tuple[date, bool]:
        """The ``count``-th working day after ``start`` (before it when negative; ``start`` itself when 0), and
        whether it is provisional: in a year the calendar does not know only weekends are known, so such a day is
        computed Monday to Friday and flagged."""
        step = timedelta(days=1 if count >= 0 else -1)
        first = self.package_years[0]
        day, provisional, remaining = start, False, abs(count)
        while remaining > 0:
            day += step
            if day.year > first and not self.known(day.year):
                provisional = True
                working = day.weekday() < 5
            else:
                working = self.is_workday(day)
            remaining -= working
        return day, provisional

    def missing(self, today: date) -> list[int]:
        """Years a deadline from ``today`` needs and the calendar lacks: this year, and from 1 November the next."""
        wanted = [today.year] + ([today.year + 1] if today.month >= WARN_FROM_MONTH else [])
        return [y for y in wanted if not self.known(y)]

    def warning(self, today: date) -> str | None:
        missing = self.missing(today)
        if not missing:
            return None
        years = ", ".join(map(str, missing))
        return (
            f"the working-day calendar lacks {years}: working-day deadlines there are provisional (Monday to"
            f" Friday). Add {years} to the workdays file (QSMON_WORKDAYS_FILE) from the State Council's notice"
            " 国务院办公厅关于部分节假日安排的通知, then `qsmon workdays check`"
        )


@cache
def package_coverage() -> tuple[int, int]:
    """The first and last year the installed chinese-calendar package knows."""
    try:
        chinese_calendar.is_workday(date(9999, 1, 1))
    except NotImplementedError as exc:
        years = [int(y) for y in re.findall(r"\d{4}", str(exc))]
        if len(years) >= 3:
            return years[-2], years[-1]
    raise ConfigError("cannot tell which years the Chinese calendar package covers")


@cache
def load_calendar(path: Path | None = None) -> Calendar:
    """The package's calendar, extended by the bureau's workdays file; a malformed file is a ConfigError."""
    if path is None:
        return Calendar()
    try:
        parsed = WorkdaysFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ConfigError("cannot read the workdays file", file=str(path), error=str(exc)) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError("the workdays file is invalid", file=str(path), error=problems) from None
    except yaml.YAMLError as exc:
        raise ConfigError("the workdays file is not YAML", file=str(path), error=" ".join(str(exc).split())) from None
    return Calendar(parsed.years, path=path)


@cache
def default_calendar() -> Calendar:
    """The calendar the settings name (QSMON_WORKDAYS_FILE), read once per process."""
    from qsmon.settings import load_settings

    return load_calendar(load_settings().workdays_file)


def coverage() -> tuple[int, int]:
    """The first and last year (without a gap) the configured calendar knows."""
    calendar = default_calendar()
    return calendar.package_years[0], calendar.last_year


def is_workday(day: date, calendar: Calendar | None = None) -> bool:
    return (calendar or default_calendar()).is_workday(day)


def add_working_days(start: date, count: int, calendar: Calendar | None = None) -> tuple[date, bool]:
    return (calendar or default_calendar()).add_working_days(start, count)


def coverage_warning(today: date, calendar: Calendar | None = None) -> str | None:
    """A start-up warning when the calendar lacks this year, or (from 1 November) next year."""
    return (calendar or default_calendar()).warning(today)
