"""The counting rule: which results count, and how counts become the figures every reader shows.

The one home of the rule (docs/architecture.md, "One home per rule"). The alert engine, dashboards, read API,
monthly report and bulletin count through these functions, or through the SQL they produce or name; a
property-based test on the real database (tests/integration/test_counting_rule.py) shows each SQL twin equal to
its Python rule, and tests/integration/test_one_number.py that every reader gives the same figure.

- **Stands apart** (:data:`APART`): risk monitoring looks for problems (问题发现率) and surveys give scores, not
  batches; neither counts in a total, a table or an indicator that does not name it. SQL twin ``in_totals()``.
- **Void** (异议成立, 不予判定): counts nowhere. Home: :mod:`qsmon.plans.counting` (the worker below this layer
  writes by it).
- **Counting date, place and levels**: :class:`qsmon.plans.counting.Counting` (which rows an indicator reads).
- **Tested / hits / rate**: :func:`hits` (SQL ``measure_hits``) and :func:`rate` (SQL ``rate_pct``).
- **Shown rates and differences**: :func:`shown` rounds half up to two decimals, :func:`points` subtracts shown
  rates, so 环比, 同比 and gaps are the arithmetic a reader redoes on the printed figures.
- **Wilson interval**: :func:`indicators.stats.wilson` (SQL ``wilson_low`` / ``wilson_high``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from qsmon.plans.counting import COUNTED_SQL, Counting, is_counted
from qsmon.plans.model import Filter, Measure
from qsmon.vocab import LABELS, Category, SamplingType

__all__ = [
    "APART",
    "COUNTED_SQL",
    "Counting",
    "TotalScope",
    "admits",
    "array_filter_sql",
    "filter_params",
    "filter_sql",
    "hits",
    "in_totals",
    "in_totals_sql",
    "is_counted",
    "points",
    "rate",
    "shown",
    "shown_text",
]

APART: tuple[SamplingType, ...] = (SamplingType.RISK_MONITORING, SamplingType.SURVEY)
_APART_VALUES = frozenset(t.value for t in APART)
IN_TOTALS_FUNCTION = "in_totals"  # SQL twin of in_totals (migration 024)
FILTER_FUNCTION = "filter_admits"  # SQL twin of admits (migrations 010, 016, 024)
RATE_FUNCTION = "rate_pct"  # SQL twin of rate (migration 024)
DECIMALS = 2  # rates and differences as bulletins print them
_QUANTUM = Decimal(1).scaleb(-DECIMALS)


def in_totals(sampling_type: str) -> bool:
    """True when results of this sampling type count in totals and in indicators that do not name their types."""
    return sampling_type not in _APART_VALUES


def in_totals_sql(column: str = "sampling_type") -> str:
    return f"{IN_TOTALS_FUNCTION}({column})"


# --- which results an indicator counts --------------------------------------------------------------------------


def admits(f: Filter, *, category: str, sampling_type: str, subcategory: str, stage: str) -> bool:
    """The indicator filter. Empty lists mean "any", except that the types standing apart count only where named."""
    return (
        category in f.categories
        and (sampling_type in f.sampling_types if f.sampling_types else in_totals(sampling_type))
        and (not f.subcategories or subcategory in f.subcategories)
        and (not f.stages or stage in f.stages)
    )


_FILTER_DIMENSIONS = ("category", "sampling_type", "subcategory", "stage")
_FILTER_ARRAYS = ("categories", "sampling_types", "subcategories", "stages")


def filter_sql(alias: str = "", *, prefix: str = "") -> str:
    """The condition that ``alias``'s rows pass the filter whose arrays are the parameters ``%(prefix…)s``."""
    column = f"{alias}." if alias else ""
    arrays = ", ".join(f"%({prefix}{name})s::text[]" for name in _FILTER_ARRAYS)
    columns = ", ".join(f"{column}{name}" for name in _FILTER_DIMENSIONS)
    return f"{FILTER_FUNCTION}({arrays}, {columns})"


def filter_params(f: Filter, *, prefix: str = "") -> dict[str, Any]:
    return {
        f"{prefix}categories": [c.value for c in f.categories],
        f"{prefix}sampling_types": [s.value for s in f.sampling_types],
        f"{prefix}subcategories": list(f.subcategories),
        f"{prefix}stages": [s.value for s in f.stages],
    }


def array_filter_sql(arrays: str, rows: str) -> str:
    """The condition for SQL that holds the filter in a table (``plan_indicators``) rather than in parameters."""
    filters = ", ".join(f"{arrays}.{name}" for name in _FILTER_ARRAYS)
    columns = ", ".join(f"{rows}.{name}" for name in _FILTER_DIMENSIONS)
    return f"{FILTER_FUNCTION}({filters}, {columns})"


# --- counts to figures -------------------------------------------------------------------------------------------


def hits(measure: Measure, *, passed: int, failed: int, graded: int) -> int:
    """Results that count towards a rate measure: passed, failed (problems found), or reaching one of the grades.
    SQL twin: measure_hits (migration 016)."""
    if measure in (Measure.FAIL_RATE, Measure.PROBLEM_RATE):
        return failed
    if measure is Measure.GRADE_RATE:
        return graded
    return passed


def rate(hit: int, tested: int) -> float | None:
    """Percent of the tested results; None without any (never zero). SQL twin: rate_pct (migration 024).

    ``100 * hit / tested`` divides integers once, so the float is the exact ratio correctly rounded, as the SQL
    twin's numeric division gives it: both then show the same two decimals."""
    return 100 * hit / tested if tested else None


def rate_sql(hit: str, tested: str) -> str:
    return f"{RATE_FUNCTION}({hit}, {tested})"


def shown(value: float | Decimal | None) -> Decimal | None:
    """A rate (or score) as printed: two decimals, halves rounded up (GB/T 8170), from its shortest decimal form."""
    if value is None:
        return None
    return Decimal(repr(value) if isinstance(value, float) else value).quantize(_QUANTUM, ROUND_HALF_UP)


def points(now: float | Decimal | None, before: float | Decimal | None) -> Decimal | None:
    """环比, 同比, a gap to target: the difference of the rates as shown, so the printed arithmetic comes out."""
    a, b = shown(now), shown(before)
    return None if a is None or b is None else a - b


def shown_text(value: float | Decimal | None, unit: str = "%") -> str:
    """97.80% — or — without a value."""
    s = shown(value)
    return "—" if s is None else f"{s}{unit}"


# --- the scope a total names -------------------------------------------------------------------------------------


class TotalScope:
    """What a total counts, in words that every table and sentence of a report repeats: the category and the
    sampling types in totals that its results came from (监督抽检, 评价性抽检, or both as 食品安全抽检)."""

    def __init__(self, category: Category, sampling_types: frozenset[str]) -> None:
        self.category = category
        self.sampling_types = frozenset(t for t in sampling_types if in_totals(t))

    @property
    def kinds(self) -> list[SamplingType]:
        """The sampling types held, in the vocabulary's order."""
        return sorted((SamplingType(t) for t in self.sampling_types), key=list(SamplingType).index)

    @property
    def label(self) -> str:
        kinds = self.kinds
        if len(kinds) == 1:
            return LABELS[kinds[0]]
        if self.category is Category.FOOD:
            return "食品安全抽检"
        return f"{LABELS[self.category]}抽检"

    @property
    def detail(self) -> str:
        """食品安全抽检(监督抽检、评价性抽检,不含风险监测): the label and what it holds."""
        kinds = self.kinds
        held = "、".join(LABELS[k] for k in kinds)
        apart = "、".join(LABELS[t] for t in APART)
        return f"{self.label}({held},不含{apart})" if len(kinds) > 1 else f"{self.label}(不含{apart})"
