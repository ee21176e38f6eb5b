"""How an indicator counts (统计口径): on which day, for which place, at which sampling levels, and so from where.

The rollups count a result on its sampling day, for the place it was sampled, at every level: most indicators
read them. Any other basis is counted from the current verdicts by the SQL function ``counted_rows`` (migration
017). :attr:`Counting.from_rollups` is the one home of that choice; ``qsmon init`` stores it in
``plan_indicators.from_rollups`` for the dashboards. Its words: indicators.labels.counting_text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qsmon.plans.model import CountingDate, Indicator, Place, Plan
from qsmon.vocab import SamplingLevel


@dataclass(frozen=True, slots=True)
class Counting:
    date: CountingDate = CountingDate.SAMPLED
    place: Place = Place.SAMPLING_SITE
    levels: tuple[SamplingLevel, ...] = ()

    @classmethod
    def of(cls, plan: Plan, indicator: Indicator) -> Counting:
        return cls(plan.counting_date, indicator.place, indicator.filter.sampling_levels)

    @property
    def from_rollups(self) -> bool:
        return self.date is CountingDate.SAMPLED and self.place is Place.SAMPLING_SITE and not self.levels

    def rows_sql(self, *, whole_months: bool = True) -> str:
        """A set-returning call over the local days ``%(first)s``..``%(last)s`` in rollup_rows()'s shape."""
        if self.from_rollups:
            return f"rollup_rows(%(first)s, %(last)s, {'true' if whole_months else 'false'})"
        return ("counted_rows(%(first)s, %(last)s, %(tz)s, %(counting_date)s, %(place)s,"
                " %(sampling_levels)s::text[])")

    def params(self, timezone: str) -> dict[str, Any]:
        return {"tz": timezone, "counting_date": self.date.value, "place": self.place.value,
                "sampling_levels": [level.value for level in self.levels]}
