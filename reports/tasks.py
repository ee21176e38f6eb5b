"""Task progress (抽检任务完成情况): where a plan sets a sampling volume, the batches done this year against those
due by the month's end, for the jurisdiction and each county.

Due is the year's volume pro rata to the days passed. A volume per thousand residents needs the population
(``QSMON_POPULATION_FILE``: residents per region code, with its source and year); a volume for the jurisdiction is
split among counties by population where it is known. Where the population is missing the row says so.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import yaml
from pydantic import BaseModel, ConfigDict, Field

from indicators.counting import filter_params, filter_sql
from indicators.windows import month_range
from qsmon.exceptions import ConfigError
from qsmon.plans.model import Plan, SamplingTask
from qsmon.regions import children, is_within, like_pattern, name_of


class Population(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    year: int
    residents: dict[str, int] = Field(description="region code → residents")


def load_population(path: Path | None) -> Population | None:
    if path is None:
        return None
    try:
        return Population.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(
            "the population file is unreadable or invalid", file=str(path), error=str(exc).splitlines()[0]
        ) from exc


@dataclass(frozen=True, slots=True)
class TaskRow:
    task: SamplingTask
    region_code: str
    annual: float | None  # batches due in the whole year; None: no population to set it
    due: float | None  # by the month's end, pro rata
    done: int

    @property
    def region_name(self) -> str:
        return name_of(self.region_code)

    @property
    def progress(self) -> float | None:
        """Done as a percentage of due."""
        return self.done / self.due * 100 if self.due else None


_DONE = f"""
SELECT region_code, sum(tested) FROM rollup_rows(%(first)s, %(last)s)
WHERE {filter_sql()} AND region_code LIKE %(prefix)s
GROUP BY region_code
"""


def _residents(population: Population | None, code: str, counties: list[str]) -> int | None:
    if population is None:
        return None
    if code in population.residents:
        return population.residents[code]
    known = [population.residents[c] for c in counties if c in population.residents]
    return sum(known) if known and len(known) == len(counties) else None


def _annual(task: SamplingTask, residents: int | None, share: float | None) -> float | None:
    if task.per_thousand_residents is not None:
        return task.per_thousand_residents * residents / 1000 if residents is not None else None
    assert task.per_year is not None  # noqa: S101 - one of the two is set (SamplingTask validates it)
    return task.per_year * share if share is not None else None


def task_progress(
    conn: psycopg.Connection, plan: Plan, year: int, month: int, population: Population | None
) -> list[TaskRow]:
    jurisdiction = plan.jurisdiction.code
    last = month_range(year, month).last
    first = max(date(year, 1, 1), plan.period.start)
    days_in_year = 366 if calendar.isleap(year) else 365
    elapsed = max(0, (last - first).days + 1) / days_in_year
    counties = [r.code for r in children(jurisdiction)]
    total_residents = _residents(population, jurisdiction, counties)
    rows = []
    for task in plan.sampling_tasks:
        params = {"first": first, "last": last, "prefix": like_pattern(jurisdiction), **filter_params(task.filter)}
        done_by_region: dict[str, int] = dict(conn.execute(_DONE, params).fetchall())
        for code in [jurisdiction, *counties]:
            done = sum(int(n) for region, n in done_by_region.items() if is_within(region, code))
            residents = total_residents if code == jurisdiction else _residents(population, code, [])
            share = (
                1.0
                if code == jurisdiction
                else (residents / total_residents if residents is not None and total_residents else None)
            )
            annual = _annual(task, residents, share)
            rows.append(TaskRow(task, code, annual, annual * elapsed if annual is not None else None, done))
    return rows
