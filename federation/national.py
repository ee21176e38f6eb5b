"""The national overview of a month: each plan's indicator over the jurisdictions of every instance that reported
it, added up from their frozen figures; and the figures a late correction moved upstream since (上报后更正).

Counts add up; a rate is recomputed from the summed counts with the one rate rule (indicators.counting.rate), never
averaged. The hits behind an instance's rate are recovered exactly from its value (``100 * hit / tested``,
correctly rounded, so ``round(value * tested / 100)`` is ``hit``); a mean score is weighted by its observations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg

from indicators.counting import rate
from qsmon.plans.model import Measure


@dataclass(frozen=True, slots=True)
class Figure:
    samples: int
    failed: int
    value: float | None


@dataclass(frozen=True, slots=True)
class InstanceFigure:
    instance: str
    region_code: str
    reported: Figure
    current: Figure | None  # None: not moved since it was reported

    @property
    def now(self) -> Figure:
        return self.current or self.reported


@dataclass(frozen=True, slots=True)
class NationalFigure:
    month: date
    plan_id: str
    indicator_id: str
    indicator_name: str
    measure: Measure
    parts: tuple[InstanceFigure, ...]

    @property
    def reported(self) -> Figure:
        return combine(self.measure, [p.reported for p in self.parts])

    @property
    def current(self) -> Figure:
        return combine(self.measure, [p.now for p in self.parts])

    @property
    def corrected(self) -> bool:
        """上报后更正: some instance's figure moved after it was reported."""
        return any(p.current is not None for p in self.parts)


def combine(measure: Measure, figures: list[Figure]) -> Figure:
    samples = sum(f.samples for f in figures)
    failed = sum(f.failed for f in figures)
    weighted = [(f.value, f.samples) for f in figures if f.value is not None and f.samples]
    if measure.is_rate:
        value = rate(sum(round(v * n / 100) for v, n in weighted), sum(n for _, n in weighted))
    else:
        value = sum(v * n for v, n in weighted) / sum(n for _, n in weighted) if weighted else None
    return Figure(samples, failed, value)


def national_overview(conn: psycopg.Connection, month: date) -> list[NationalFigure]:
    """Every plan's indicators for ``month``, over the jurisdictions of the instances that reported them."""
    rows = conn.execute(
        "SELECT plan_id, indicator_id, indicator_name, measure, instance, region_code, samples, failed, value,"
        " current_samples, current_failed, current_value FROM federated_figures"
        " WHERE month = %s AND jurisdiction ORDER BY plan_id, indicator_id, instance",
        (month,),
    ).fetchall()
    grouped: dict[tuple[str, str], list[tuple[str, Measure, InstanceFigure]]] = {}
    for plan_id, indicator_id, name, measure, instance, region, n, failed, value, cn, cf, cv in rows:
        current = None if cn is None else Figure(int(cn), int(cf), cv)
        part = InstanceFigure(instance, region, Figure(int(n), int(failed), value), current)
        grouped.setdefault((plan_id, indicator_id), []).append((name, Measure(measure), part))
    return [
        NationalFigure(month, plan_id, indicator_id, parts[-1][0], parts[-1][1], tuple(p[2] for p in parts))
        for (plan_id, indicator_id), parts in grouped.items()
    ]


def published_failures(conn: psycopg.Connection, month: date) -> dict[str, int]:
    """How many failures each instance published for the month."""
    return {
        instance: int(n)
        for instance, n in conn.execute(
            "SELECT instance, count(*) FROM federated_failures WHERE month = %s GROUP BY instance ORDER BY instance",
            (month,),
        )
    }
