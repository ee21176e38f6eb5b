"""A feed that stops: a scope where results were due but none arrived (the `no_data` window).

Results arrive at a rate the trailing weeks show. When the last N days hold none although the trailing rate says
about `expected` were due, and `expected` is large enough that chance alone would rarely leave the days empty
(P(0) = e^-expected < 1 % from 4.6), the scope's feed is `warning`; results arriving again make it `ok`.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg

from indicators.evaluate import Evaluation, fetch_counts
from indicators.stats import Interval, State
from indicators.windows import DayRange
from qsmon.plans.model import Indicator, Op, Plan

NO_DATA = "no_data"
TRAILING_DAYS = 56  # eight weeks: long enough to smooth weekly rhythm, short enough to follow a changing rate
MIN_EXPECTED = 4.6  # e^-4.6 ≈ 1 %: a gap less likely than that is a stopped feed, not chance


def feed_evaluations(
    conn: psycopg.Connection, plan: Plan, indicator: Indicator, today: date, days: int, *, timezone: str
) -> list[Evaluation]:
    recent = DayRange(today - timedelta(days=days - 1), today)
    trailing = DayRange(recent.first - timedelta(days=TRAILING_DAYS), recent.first - timedelta(days=1))
    now_counts = fetch_counts(conn, plan, indicator, recent, timezone=timezone)
    before = fetch_counts(conn, plan, indicator, trailing, timezone=timezone)
    evaluations = []
    for scope, counts in sorted(now_counts.items()):
        if scope.subcategory:
            continue
        expected = before[scope].tested * days / TRAILING_DAYS if scope in before else 0.0
        if counts.tested > 0:
            state = State.OK
        elif expected >= MIN_EXPECTED:
            state = State.WARNING
        else:
            state = State.INSUFFICIENT_DATA  # too few were due to tell a gap from chance
        evaluations.append(
            Evaluation(
                plan.id,
                indicator.id,
                scope,
                NO_DATA,
                recent,
                counts.tested,
                0,
                None,
                Interval(0.0, 100.0),
                Op.GE,
                None,
                expected,
                state,
                indicator.severity.value,
            )
        )
    return evaluations
