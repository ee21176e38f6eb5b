"""Recompute what the worker derives from the final verdicts; report, and fix, any difference.

The worker maintains the daily and monthly rollups and the table of current failures incrementally; this is the
repair tool and the audit that proves them. Each is recomputed from ``sample_current`` (and, for failures, the
history rows it points at) and compared row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg

from qsmon.plans.counting import COUNTED_SQL
from streams.batch_sql import FAILURE_COLUMNS, ROLLUP_COUNTS, ROLLUP_DIMENSIONS

# A void sample (不予判定) counts nowhere: qsmon.plans.counting.COUNTED_SQL, as in the worker's statement.
_COUNTED = f"""count(*) FILTER (WHERE {COUNTED_SQL}) AS tested, count(*) FILTER (WHERE verdict = 'pass') AS passed,
    count(*) FILTER (WHERE verdict = 'fail') AS failed,
    coalesce(sum(score::numeric) FILTER (WHERE {COUNTED_SQL}), 0) AS score_sum,
    count(score) FILTER (WHERE {COUNTED_SQL}) AS score_count,
    coalesce(sum(score::numeric * score::numeric) FILTER (WHERE {COUNTED_SQL}), 0) AS score_sq_sum"""

_CURRENT_HISTORY = """FROM sample_current c JOIN inspection_results r
    ON r.sample_id = c.sample_id AND r.revision = c.revision AND r.sampled_at = c.sampled_at"""


@dataclass(frozen=True, slots=True)
class Derived:
    """A table derived from the final verdicts: its key, the compared columns, and how to recompute it."""

    table: str
    period: str  # the date column a rebuild from a given day restricts: day, month or year
    key: str
    values: str
    truth: str  # SELECT key, values … WHERE day >= %(from_day)s AND day < %(to_day)s
    counts: bool = True  # rows of zeros mean the same as no row (everything they counted moved away)

    def keep(self) -> str:
        return (
            f"SELECT {self.key}, {self.values} FROM {self.table}"
            f" WHERE {self.period} >= %(from_day)s AND {self.period} < %(to_day)s"
        )

    def start(self, day: date) -> date:
        """The first day a rebuild from ``day`` recomputes: whole months or years for the coarser rollups."""
        if self.period == "month":
            return day.replace(day=1)
        if self.period == "year":
            return day.replace(month=1, day=1)
        return day


def _rollup(table: str, period: str, bucket: str, place: str = "region_code") -> Derived:
    """A rollup of the final verdicts by ``bucket`` (an expression of the local day) and every dimension, the place
    being where it was sampled (region_code) or made (manufacturer_region_code, for results that name one)."""
    dimensions = ROLLUP_DIMENSIONS.replace("region_code", f"{place} AS region_code")
    grouping = ROLLUP_DIMENSIONS.replace("region_code", place)
    known = f" AND {place} IS NOT NULL" if place != "region_code" else ""
    return Derived(
        table,
        period,
        f"{period}, {ROLLUP_DIMENSIONS}",
        ROLLUP_COUNTS,
        f"SELECT {bucket} AS {period}, {dimensions}, {_COUNTED} FROM sample_current"
        f" WHERE day >= %(from_day)s AND day < %(to_day)s{known} GROUP BY 1, {grouping}"
        f" HAVING count(*) FILTER (WHERE {COUNTED_SQL}) > 0",
    )  # void samples only: no row


DERIVED = (
    _rollup("rollup_daily", "day", "day"),
    _rollup("rollup_monthly", "month", "date_trunc('month', day)::date"),
    _rollup("rollup_daily_made", "day", "day", "manufacturer_region_code"),
    _rollup("rollup_monthly_made", "month", "date_trunc('month', day)::date", "manufacturer_region_code"),
    Derived(
        "failure_current",
        "day",
        "sample_id",
        ", ".join(FAILURE_COLUMNS[1:]),
        "SELECT c.sample_id, c.revision, c.sampled_at, c.day, c.category, c.subcategory, c.sampling_type,"
        " c.stage, c.region_code, r.product, r.manufacturer, r.sampled_unit, r.lab, r.failed_items"
        f" {_CURRENT_HISTORY}"
        " WHERE c.verdict = 'fail' AND c.day >= %(from_day)s AND c.day < %(to_day)s",
        counts=False,
    ),
    Derived(
        "failed_item_monthly",
        "month",
        "month, region_code, category, item",
        "failures",
        "SELECT date_trunc('month', c.day)::date AS month, c.region_code, c.category, i->>'item' AS item,"
        f" count(*) AS failures {_CURRENT_HISTORY} CROSS JOIN LATERAL jsonb_array_elements(r.failed_items) i"
        " WHERE c.verdict = 'fail' AND in_totals(c.sampling_type) AND c.day >= %(from_day)s"
        " AND c.day < %(to_day)s GROUP BY 1, 2, 3, 4",
    ),
    Derived(
        "failed_firm_yearly",
        "year",
        "year, region_code, category, firm, product",
        "failures",
        "SELECT date_trunc('year', c.day)::date AS year, c.region_code, c.category,"
        " coalesce(r.manufacturer, r.sampled_unit) AS firm, coalesce(r.product, '') AS product,"
        f" count(*) AS failures {_CURRENT_HISTORY}"
        " WHERE c.verdict = 'fail' AND in_totals(c.sampling_type) AND c.day >= %(from_day)s"
        " AND c.day < %(to_day)s AND coalesce(r.manufacturer, r.sampled_unit) IS NOT NULL GROUP BY 1, 2, 3, 4, 5",
    ),
)


@dataclass(frozen=True, slots=True)
class RollupDifference:
    table: str
    key: str  # the row's key, comma-separated
    truth: str | None  # the recomputed values; None: the row should not exist
    kept: str | None  # the stored values; None: the row is missing


def _compare(derived: Derived) -> str:
    keys = [k.strip() for k in derived.key.split(",")]
    values = [v.strip() for v in derived.values.split(",")]
    # An all-zero rollup row (every sample moved away) is the same as no row.
    empty = " AND ".join(f"k.{v} = 0" for v in values) if derived.counts else "false"
    return f"""
        WITH truth AS ({derived.truth}), kept AS ({derived.keep()})
        SELECT concat_ws(', ', {", ".join(f"coalesce(t.{k}, k.{k})" for k in keys)}),
            CASE WHEN t.{keys[0]} IS NOT NULL THEN concat_ws(', ', {", ".join(f"t.{v}" for v in values)}) END,
            CASE WHEN k.{keys[0]} IS NOT NULL THEN concat_ws(', ', {", ".join(f"k.{v}" for v in values)}) END
        FROM truth t FULL JOIN kept k USING ({derived.key})
        WHERE ({", ".join(f"t.{v}" for v in values)}) IS DISTINCT FROM ({", ".join(f"k.{v}" for v in values)})
          AND NOT (t.{keys[0]} IS NULL AND {empty})
        ORDER BY 1
    """


END_OF_TIME = date(9999, 12, 31)


def differences(
    conn: psycopg.Connection, from_day: date = date.min, to_day: date = END_OF_TIME
) -> list[RollupDifference]:
    """What differs from the truth for local days in [from_day, to_day) (whole months or years for the coarser
    rollups: ``to_day`` must be the first of a year unless it is the end of time)."""
    return [
        RollupDifference(derived.table, *row)
        for derived in DERIVED
        for row in conn.execute(
            _compare(derived).encode(), {"from_day": derived.start(from_day), "to_day": to_day}
        ).fetchall()
    ]


def year_chunks(first: date, last: date) -> list[tuple[date, date]]:
    """[start, end) ranges a year each from ``first`` to past ``last``; the final one open to the end of time."""
    starts = [first] + [date(year, 1, 1) for year in range(first.year + 1, last.year + 1)]
    return list(zip(starts, [*starts[1:], END_OF_TIME], strict=True))


def _day_range(conn: psycopg.Connection) -> tuple[date, date] | None:
    """The first and last day anything derived or its truth covers."""
    parts = [
        "SELECT min(day), max(day) FROM sample_current",
        *(f"SELECT min({d.period}), max({d.period}) FROM {d.table}" for d in DERIVED),
    ]
    row = conn.execute(f"SELECT min(a), max(b) FROM ({' UNION ALL '.join(parts)}) AS t(a, b)".encode()).fetchone()
    return (row[0], row[1]) if row and row[0] is not None else None


def rebuild(conn: psycopg.Connection, from_day: date = date.min) -> list[RollupDifference]:
    """Replace the derived rows from ``from_day`` on (from the start of its month or year for the coarser
    rollups) with the truth; returns what differed before.

    A year at a time, each in its own short transaction: the worker waits for one year's comparison at most,
    never for the whole run (rows of a year the worker changes meanwhile are kept right by the worker itself)."""
    conn.commit()
    covered = _day_range(conn)
    conn.commit()
    if covered is None:
        return []
    first, last = covered
    found: list[RollupDifference] = []
    for start, end in year_chunks(max(from_day, first), last):
        with conn.transaction():
            # The worker writes these under partition locks; this lock keeps them still meanwhile.
            conn.execute(f"LOCK TABLE {', '.join(d.table for d in DERIVED)} IN SHARE ROW EXCLUSIVE MODE".encode())
            chunk = differences(conn, start, end)
            for derived in DERIVED:
                if any(f.table == derived.table for f in chunk):
                    params = {"from_day": derived.start(start), "to_day": end}
                    conn.execute(
                        f"DELETE FROM {derived.table} WHERE {derived.period} >= %(from_day)s"
                        f" AND {derived.period} < %(to_day)s".encode(),
                        params,
                    )
                    conn.execute(
                        f"INSERT INTO {derived.table} ({derived.key}, {derived.values}) {derived.truth}".encode(),
                        params,
                    )
        found.extend(chunk)
    return found
