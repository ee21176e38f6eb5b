"""The bulletin's figures (#22): batches and failures by class (大类), 环节 and sampling type, problem-type shares,
firms failing repeatedly, and reference figures from elsewhere; the same month last year and last month beside.

Counted over the plan's jurisdiction, whatever its indicators filter: what a bureau's monthly notice reports. Its
tables hold food (食品安全抽检: the sampling types in totals, indicators.counting.in_totals); risk monitoring is a
line of its own (问题样品, 问题发现率) and names no firm; other categories have a table of their own, by sampling
type. Every total says its scope (:class:`indicators.counting.TotalScope`). Months without samples stay None.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import yaml
from pydantic import BaseModel, ConfigDict

from indicators.counting import TotalScope, in_totals, in_totals_sql, points, rate
from indicators.problem_types import UNCLASSIFIED, problem_type
from indicators.windows import month_range, shift_month
from qsmon.exceptions import ConfigError
from qsmon.regions import name_of
from qsmon.vocab import Category, SamplingType
from reports.published import class_order

REPEAT_MONTHS = 12  # a firm failing twice within a year is listed
REPEAT_AT_LEAST = 2


@dataclass(frozen=True, slots=True)
class Tally:
    """Batches and failures (problem samples, for risk monitoring) of one group in one period."""

    batches: int = 0
    failed: int = 0

    @property
    def rate(self) -> float | None:
        return rate(self.failed, self.batches)


def change(now: Tally, before: Tally) -> Decimal | None:
    """Percentage points of failure rate against an earlier period, from the rates as shown; None when either has no
    batches."""
    return points(now.rate, before.rate)


@dataclass(frozen=True, slots=True)
class GroupRow:
    key: str  # the group's code: a class name, a stage or a sampling type
    category: Category | None
    month: Tally
    previous_month: Tally
    last_year: Tally


@dataclass(frozen=True, slots=True)
class ProblemShare:
    name: str  # a problem type, or UNCLASSIFIED
    items: int  # failed items (项次) of the type
    share: float  # percent of all failed items of the month
    examples: tuple[str, ...]  # the commonest items, for the unclassified: every one


@dataclass(frozen=True, slots=True)
class RepeatFirm:
    firm: str
    region: str
    failures: int
    products: tuple[str, ...]


class ReferenceFigure(BaseModel):
    """A figure published elsewhere (the province, the nation) to read beside the local one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: str  # 全国, 湖北省 …
    category: Category
    subcategory: str | None = None  # a 大类; None: the whole category
    period: str  # 2026年上半年 …
    fail_rate: float  # percent
    source: str  # the notice it comes from


class ReferenceFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    figures: tuple[ReferenceFigure, ...] = ()


def load_references(path: Path | None) -> tuple[ReferenceFigure, ...]:
    if path is None:
        return ()
    try:
        return ReferenceFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {}).figures
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(
            "the reference figures file is unreadable or invalid", file=str(path), error=str(exc).splitlines()[0]
        ) from exc


@dataclass
class Bulletin:
    scope: TotalScope = field(default_factory=lambda: TotalScope(Category.FOOD, frozenset()))
    classes: list[GroupRow] = field(default_factory=list)  # food in totals, by SAMR 大类
    stages: list[GroupRow] = field(default_factory=list)  # food in totals, by 环节
    sampling_types: list[GroupRow] = field(default_factory=list)  # food: each type in totals, and risk monitoring
    total: GroupRow | None = None  # the food total the class, stage and sampling-type tables add up to
    others: list[GroupRow] = field(default_factory=list)  # other categories in totals, by sampling type
    problems: list[ProblemShare] = field(default_factory=list)
    repeat_firms: list[RepeatFirm] = field(default_factory=list)
    references: list[tuple[ReferenceFigure, Tally | None]] = field(default_factory=list)
    missing_references: list[tuple[Category, str]] = field(default_factory=list)  # classes no reference covers

    @property
    def risk_monitoring(self) -> GroupRow | None:
        return next((r for r in self.sampling_types if r.key == SamplingType.RISK_MONITORING), None)


_GROUPED = """
SELECT {key} AS key, category, sum(tested) FILTER (WHERE day BETWEEN %(first)s AND %(last)s),
    sum(failed) FILTER (WHERE day BETWEEN %(first)s AND %(last)s),
    sum(tested) FILTER (WHERE day BETWEEN %(prev_first)s AND %(prev_last)s),
    sum(failed) FILTER (WHERE day BETWEEN %(prev_first)s AND %(prev_last)s),
    sum(tested) FILTER (WHERE day BETWEEN %(ly_first)s AND %(ly_last)s),
    sum(failed) FILTER (WHERE day BETWEEN %(ly_first)s AND %(ly_last)s)
FROM (SELECT * FROM rollup_rows(%(first)s, %(last)s) UNION ALL SELECT * FROM rollup_rows(%(prev_first)s, %(prev_last)s)
      UNION ALL SELECT * FROM rollup_rows(%(ly_first)s, %(ly_last)s)) r
WHERE region_code LIKE %(pattern)s AND {where}
GROUP BY 1, 2
HAVING sum(tested) FILTER (WHERE day BETWEEN %(first)s AND %(last)s) > 0
ORDER BY 2, 1
"""

# The bulletin's scopes, each a condition on rollup rows with bound parameters (never a Python repr in SQL).
FOOD_IN_TOTALS = f"category = %(food)s AND {in_totals_sql()}"
FOOD_BY_SAMPLING_TYPE = f"category = %(food)s AND ({in_totals_sql()} OR sampling_type = %(risk)s)"
OTHERS_IN_TOTALS = f"category <> %(food)s AND {in_totals_sql()}"
SCOPE_PARAMS = {"food": Category.FOOD.value, "risk": SamplingType.RISK_MONITORING.value}

_ITEMS = f"""
SELECT category, i->>'item', count(*)
FROM failure_current CROSS JOIN LATERAL jsonb_array_elements(failed_items) i
WHERE day BETWEEN %(first)s AND %(last)s AND region_code LIKE %(pattern)s AND {FOOD_IN_TOTALS}
GROUP BY 1, 2
"""

# No firm is named on risk monitoring's problem samples: in totals only, every category.
# A maker is shown with its own place (where it is, not where its product was sampled); a sampled unit without a
# named maker with the place it was sampled.
_REPEAT = f"""
SELECT coalesce(f.manufacturer, f.sampled_unit) AS firm,
    min(CASE WHEN f.manufacturer IS NOT NULL THEN c.manufacturer_region_code ELSE f.region_code END), count(*),
    array_agg(DISTINCT coalesce(f.product, '') ORDER BY coalesce(f.product, ''))
FROM failure_current f JOIN sample_current c USING (sample_id)
WHERE f.day BETWEEN %(since)s AND %(last)s AND f.region_code LIKE %(pattern)s AND {in_totals_sql("f.sampling_type")}
  AND coalesce(f.manufacturer, f.sampled_unit) IS NOT NULL
GROUP BY 1 HAVING count(*) >= %(at_least)s
ORDER BY 3 DESC, 1
LIMIT 50
"""


def _tally(batches: object, failed: object) -> Tally:
    return Tally(int(batches or 0), int(failed or 0))  # type: ignore[call-overload]


def _grouped(conn: psycopg.Connection, key: str, where: str, params: dict[str, object]) -> list[GroupRow]:
    return [
        GroupRow(str(k or ""), Category(c), _tally(b, f), _tally(pb, pf), _tally(lb, lf))
        for k, c, b, f, pb, pf, lb, lf in conn.execute(
            _GROUPED.format(key=key, where=where), {**params, **SCOPE_PARAMS}
        )
    ]


def sum_rows(rows: list[GroupRow], key: str) -> GroupRow:
    """One line adding up ``rows`` (any category), under ``key``."""

    def total(pick: str) -> Tally:
        tallies = [getattr(r, pick) for r in rows]
        return Tally(sum(t.batches for t in tallies), sum(t.failed for t in tallies))

    return GroupRow(key, None, total("month"), total("previous_month"), total("last_year"))


def gather_bulletin(
    conn: psycopg.Connection, pattern: str, year: int, month: int, references: tuple[ReferenceFigure, ...] = ()
) -> Bulletin:
    """The bulletin's figures for ``year-month`` over the regions ``pattern`` (a region_pattern LIKE)."""
    this = month_range(year, month)
    previous = month_range(*shift_month(year, month, -1))
    last_year = month_range(year - 1, month)
    params: dict[str, object] = {
        "first": this.first,
        "last": this.last,
        "prev_first": previous.first,
        "prev_last": previous.last,
        "ly_first": last_year.first,
        "ly_last": last_year.last,
        "pattern": pattern,
    }
    bulletin = Bulletin()
    bulletin.classes = sorted(
        _grouped(conn, "subcategory", FOOD_IN_TOTALS, params), key=lambda r: class_order(r.key or "未分类")
    )  # the 细则's order of 大类
    bulletin.stages = _grouped(conn, "stage", FOOD_IN_TOTALS, params)
    bulletin.sampling_types = _grouped(conn, "sampling_type", FOOD_BY_SAMPLING_TYPE, params)
    bulletin.others = _grouped(conn, "sampling_type", OTHERS_IN_TOTALS, params)
    bulletin.total = sum_rows(bulletin.classes, "合计")
    bulletin.scope = TotalScope(Category.FOOD, frozenset(r.key for r in bulletin.sampling_types if in_totals(r.key)))
    bulletin.problems = _problem_shares(
        conn, {"first": this.first, "last": this.last, "pattern": pattern, **SCOPE_PARAMS}
    )
    since = date(*shift_month(year, month, -(REPEAT_MONTHS - 1)), 1)
    bulletin.repeat_firms = [
        RepeatFirm(firm, name_of(region) if region else "—", int(n), tuple(p for p in products if p))
        for firm, region, n, products in conn.execute(
            _REPEAT, {"since": since, "last": this.last, "pattern": pattern, "at_least": REPEAT_AT_LEAST}
        )
    ]
    _compare(bulletin, references)
    return bulletin


def _problem_shares(conn: psycopg.Connection, params: dict[str, object]) -> list[ProblemShare]:
    by_type: Counter[str] = Counter()
    examples: dict[str, Counter[str]] = {}
    for category, item, n in conn.execute(_ITEMS, params):
        kind = problem_type(Category(category), item) or UNCLASSIFIED
        by_type[kind] += int(n)
        examples.setdefault(kind, Counter())[item] += int(n)
    total = sum(by_type.values())
    shares = [
        ProblemShare(
            kind,
            n,
            rate(n, total) or 0.0,
            tuple(i for i, _ in examples[kind].most_common(None if kind == UNCLASSIFIED else 3)),
        )
        for kind, n in by_type.most_common()
        if kind != UNCLASSIFIED
    ]
    if UNCLASSIFIED in by_type:  # last, with every item, for an analyst to classify
        n = by_type[UNCLASSIFIED]
        shares.append(ProblemShare(UNCLASSIFIED, n, rate(n, total) or 0.0, tuple(sorted(examples[UNCLASSIFIED]))))
    return shares


def _compare(bulletin: Bulletin, references: tuple[ReferenceFigure, ...]) -> None:
    """Each reference figure beside the local month's figure for the same class (None: no local batches)."""
    local = {(r.category, r.key): r.month for r in bulletin.classes}
    by_category: dict[Category, Tally] = {}
    for r in [*bulletin.classes, *bulletin.others]:
        if r.category is not None:
            t = by_category.get(r.category, Tally())
            by_category[r.category] = Tally(t.batches + r.month.batches, t.failed + r.month.failed)
    for figure in references:
        tally = (
            local.get((figure.category, figure.subcategory)) if figure.subcategory else by_category.get(figure.category)
        )
        bulletin.references.append((figure, tally))
    given = {(f.category, f.subcategory or "") for f in references}
    bulletin.missing_references = [
        (r.category, r.key)
        for r in bulletin.classes
        if r.category is not None and (r.category, r.key) not in given and (r.category, "") not in given
    ]
