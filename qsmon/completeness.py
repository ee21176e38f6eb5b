"""Whether a month's data is complete enough to read a rate from (数据完整性).

A scrape that ends on 4 December shows December as 0 of 12 passing: the failures were announced first, the passes
not yet collected. Read as a month, that is a collapse; it is a month whose data stops early. A month is judged
incomplete when it has not ended yet, when its last day with data falls ENDS_EARLY_DAYS or more before its end, or
when it holds less than LOW_SHARE of its usual volume (the median of up to USUAL_MONTHS earlier months that have
data), both only where the usual volume is at least MIN_USUAL (a county with a few results a month has no "usual"
day to miss). The rule is ``reasons``; the SQL function month_incomplete_reasons (migration 050) is its twin, and
tests/integration/test_completeness.py checks that they agree.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from qsmon.regions import like_pattern

if TYPE_CHECKING:
    import psycopg

ENDS_EARLY_DAYS = 7  # the last day with data this many days or more before the month's last day
LOW_SHARE = 0.5  # below this share of the usual volume
USUAL_MONTHS = 12  # the usual volume: the median of up to this many earlier months that have data
MIN_USUAL = 20  # a usual volume below this is too small to expect data on any given day or in any given amount

Reason = str  # "in_progress", "no_data", "ends_early", "low_volume"
LABELS = {
    "in_progress": "本月尚未结束",
    "no_data": "本月无数据",
    "ends_early": "数据提前截止",
    "low_volume": "数据量远低于往月",
}


def month_last_day(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def reasons(first: date, tested: int, last_day: date | None, usual: float | None, today: date) -> tuple[Reason, ...]:
    """Why the month starting ``first`` is incomplete (empty: it is complete). ``last_day`` is its last day with
    data, ``usual`` its usual volume (None: no earlier month has data), ``today`` the day it is judged on."""
    last = month_last_day(first)
    if today <= last:
        return ("in_progress",)
    expected = usual is not None and usual >= MIN_USUAL
    found: list[Reason] = []
    if expected and (last_day is None or tested == 0):
        found.append("no_data")
    elif expected and last_day is not None and (last - last_day).days >= ENDS_EARLY_DAYS:
        found.append("ends_early")
    if expected and usual is not None and 0 < tested < LOW_SHARE * usual:
        found.append("low_volume")
    return tuple(found)


@dataclass(frozen=True, slots=True)
class MonthCompleteness:
    month: date  # its first day
    tested: int
    last_day: date | None  # the last day with data in the month
    usual: float | None
    reasons: tuple[Reason, ...]

    @property
    def incomplete(self) -> bool:
        return bool(self.reasons)

    def note(self, *, counts: bool = True) -> str | None:
        """The 数据完整性 note a report or a reader shows, or None for a complete month; without ``counts`` it names
        no batch counts (a small place's counts are not public)."""
        if not self.reasons:
            return None
        month = f"{self.month.year}年{self.month.month}月"
        said = "、".join(LABELS[r] for r in self.reasons)
        upto = f"数据截至{self.last_day.month}月{self.last_day.day}日" if self.last_day else "尚无数据"
        if counts and self.last_day:
            upto += f"，共{self.tested}批次"
        usual = (
            f"（往月通常约{round(self.usual)}批次）"
            if counts and self.usual is not None and self.usual >= MIN_USUAL
            else ""
        )
        # Full-width punctuation, as the reports set Chinese text (reports.typeset).
        return f"数据完整性：{month}{said}，{upto}{usual}，合格率等指标可能不反映全月情况，请谨慎解读。"


def judge(first: date, daily: dict[date, int], earlier: list[int], today: date) -> MonthCompleteness:
    """The month from its daily counts and the counts of the months before it (oldest first)."""
    tested = sum(daily.values())
    days = [d for d, n in daily.items() if n > 0]
    with_data = [n for n in earlier if n > 0][-USUAL_MONTHS:]
    usual = float(statistics.median(with_data)) if with_data else None
    last_day = max(days) if days else None
    return MonthCompleteness(first, tested, last_day, usual, reasons(first, tested, last_day, usual, today))


# The month's daily counts and the earlier months' totals, from the daily rollup, for a region and its divisions.
_DAILY_SQL = """
SELECT day, sum(tested)::bigint FROM rollup_daily
 WHERE day BETWEEN %(first)s AND %(last)s AND region_code LIKE %(pattern)s
   AND (%(category)s::text IS NULL OR category = %(category)s)
 GROUP BY day
"""
_MONTHS_SQL = """
SELECT date_trunc('month', day)::date AS month, sum(tested)::bigint FROM rollup_daily
 WHERE day >= %(since)s AND day < %(first)s AND region_code LIKE %(pattern)s
   AND (%(category)s::text IS NULL OR category = %(category)s)
 GROUP BY 1 ORDER BY 1
"""


def month_completeness(
    conn: psycopg.Connection, region: str, first: date, today: date, category: str | None = None
) -> MonthCompleteness:
    """The month starting ``first`` in ``region`` (and below it), for one category or all."""
    since = first
    for _ in range(USUAL_MONTHS):
        since = (since - timedelta(days=1)).replace(day=1)
    params = {
        "first": first,
        "last": month_last_day(first),
        "pattern": like_pattern(region),
        "category": category,
        "since": since,
    }
    daily = {day: int(n) for day, n in conn.execute(_DAILY_SQL, params).fetchall()}
    earlier = [int(n) for _, n in conn.execute(_MONTHS_SQL, params).fetchall()]
    return judge(first, daily, earlier, today)
