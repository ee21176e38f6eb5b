"""Which results an indicator counts: its filter, once in Python and once as SQL built here.

The SQL side is the function ``filter_admits(categories, sampling_types, subcategories, stages, category,
sampling_type, subcategory, stage)`` (migrations 010, 016); :func:`admits` is its Python twin, and a property-based
test shows the two agree. Empty lists mean "any", except that risk monitoring counts only where a filter names it
(its samples look for problems; they are not a pass rate).
"""

from __future__ import annotations

from typing import Any

from qsmon.plans.model import Filter

FILTER_FUNCTION = "filter_admits"


def admits(f: Filter, *, category: str, sampling_type: str, subcategory: str, stage: str) -> bool:
    return (category in f.categories
            and (sampling_type in f.sampling_types if f.sampling_types else sampling_type != "risk_monitoring")
            and (not f.subcategories or subcategory in f.subcategories)
            and (not f.stages or stage in f.stages))


def filter_sql(alias: str = "", *, prefix: str = "") -> str:
    """The condition that ``alias``'s rows pass the filter whose arrays are the parameters ``%(prefix…)s``."""
    column = f"{alias}." if alias else ""
    arrays = ", ".join(f"%({prefix}{name})s::text[]" for name in ("categories", "sampling_types", "subcategories",
                                                                  "stages"))
    columns = ", ".join(f"{column}{name}" for name in ("category", "sampling_type", "subcategory", "stage"))
    return f"{FILTER_FUNCTION}({arrays}, {columns})"


def filter_params(f: Filter, *, prefix: str = "") -> dict[str, Any]:
    return {f"{prefix}categories": [c.value for c in f.categories],
            f"{prefix}sampling_types": [s.value for s in f.sampling_types],
            f"{prefix}subcategories": list(f.subcategories),
            f"{prefix}stages": [s.value for s in f.stages]}


def array_filter_sql(arrays: str, rows: str) -> str:
    """The condition for SQL that holds the filter in a table (``plan_indicators``) rather than in parameters."""
    return (f"{FILTER_FUNCTION}({arrays}.categories, {arrays}.sampling_types, {arrays}.subcategories, "
            f"{arrays}.stages, {rows}.category, {rows}.sampling_type, {rows}.subcategory, {rows}.stage)")
