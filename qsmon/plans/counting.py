"""How an indicator counts (统计口径): on which day, for which place, at which sampling levels, and so from where.

The rollups count a result on its sampling day, for the place it was sampled, at every level: most indicators
read them. Their twins by place of manufacture (rollup_*_made, migration 020) serve indicators counting where
products were made (制造业产品质量合格率). Any other basis (report or announcement day, chosen sampling levels) is
counted from the current verdicts by the SQL function ``counted_rows`` (migration 017). :attr:`Counting.source` is
the one home of that choice; ``qsmon init`` stores it in ``plan_indicators.counting_source`` for the dashboards.
Its words: indicators.labels.counting_text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from qsmon.plans.model import CountingDate, Indicator, Place, Plan
from qsmon.vocab import SamplingLevel, Verdict

Source = Literal["rollups", "made_rollups", "current"]

# A void sample (异议成立, 不予判定) counts nowhere: in no denominator, no pass, no failure. The worker's rollup
# deltas (streams.batch_sql), their rebuild (streams.rebuild) and counted_rows() (migration 017) write this
# condition; tests/integration/test_counting_rule.py shows the three count alike.
COUNTED_SQL = f"verdict <> '{Verdict.VOID.value}'"


def is_counted(verdict: str) -> bool:
    """True when a result with this verdict is tested (counts in a denominator)."""
    return verdict != Verdict.VOID.value


@dataclass(frozen=True, slots=True)
class Counting:
    date: CountingDate = CountingDate.SAMPLED
    place: Place = Place.SAMPLING_SITE
    levels: tuple[SamplingLevel, ...] = ()

    @classmethod
    def of(cls, plan: Plan, indicator: Indicator) -> Counting:
        return cls(plan.counting_date, indicator.place, indicator.filter.sampling_levels)

    @property
    def source(self) -> Source:
        if self.date is CountingDate.SAMPLED and not self.levels:
            return "rollups" if self.place is Place.SAMPLING_SITE else "made_rollups"
        return "current"

    def rows_sql(self, *, whole_months: bool = True) -> str:
        """A set-returning call over the local days ``%(first)s``..``%(last)s`` in rollup_rows()'s shape."""
        whole = "true" if whole_months else "false"
        if self.source == "rollups":
            return f"rollup_rows(%(first)s, %(last)s, {whole})"
        if self.source == "made_rollups":
            return f"rollup_rows_made(%(first)s, %(last)s, {whole})"
        return "counted_rows(%(first)s, %(last)s, %(tz)s, %(counting_date)s, %(place)s, %(sampling_levels)s::text[])"

    def params(self, timezone: str) -> dict[str, Any]:
        return {
            "tz": timezone,
            "counting_date": self.date.value,
            "place": self.place.value,
            "sampling_levels": [level.value for level in self.levels],
        }
