"""What failed within an indicator's scope: its top failed items and firms, from the current failures."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from indicators.counting import filter_params, filter_sql
from indicators.windows import DayRange
from qsmon.plans.model import Indicator
from qsmon.regions import like_pattern

_SCOPE = f"""c.day BETWEEN %(first)s AND %(last)s AND {filter_sql("c")}
  AND (%(subcategory)s = '' OR c.subcategory = %(subcategory)s)
  AND c.region_code LIKE %(prefix)s"""
_TOP_ITEMS = f"""
SELECT item->>'item' AS name, count(*) FROM failure_current c
CROSS JOIN LATERAL jsonb_array_elements(c.failed_items) AS item
WHERE {_SCOPE}
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %(limit)s
"""
# The firm a failure is charged to: the nominal manufacturer, else the sampled unit (as failed_firm_yearly does).
_TOP_FIRMS = f"""
SELECT coalesce(c.manufacturer, c.sampled_unit) AS firm, count(*) FROM failure_current c
WHERE {_SCOPE} AND coalesce(c.manufacturer, c.sampled_unit) IS NOT NULL
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %(limit)s
"""


@dataclass(frozen=True, slots=True)
class ItemCount:
    item: str
    failures: int


def _top(
    sql: str,
    conn: psycopg.Connection,
    indicator: Indicator,
    days: DayRange,
    region_code: str,
    subcategory: str,
    limit: int,
) -> list[ItemCount]:
    rows = conn.execute(
        sql,
        {
            "first": days.first,
            "last": days.last,
            "subcategory": subcategory,
            "prefix": like_pattern(region_code),
            "limit": limit,
            **filter_params(indicator.filter),
        },
    ).fetchall()
    return [ItemCount(str(name), int(count)) for name, count in rows]


def top_failed_items(
    conn: psycopg.Connection,
    indicator: Indicator,
    days: DayRange,
    region_code: str,
    subcategory: str = "",
    limit: int = 3,
) -> list[ItemCount]:
    """The items that failed most often among the samples the indicator counts in this region (and subcategory)."""
    return _top(_TOP_ITEMS, conn, indicator, days, region_code, subcategory, limit)


def top_failed_firms(
    conn: psycopg.Connection,
    indicator: Indicator,
    days: DayRange,
    region_code: str,
    subcategory: str = "",
    limit: int = 3,
) -> list[ItemCount]:
    """The firms with the most failed samples among those the indicator counts here."""
    return _top(_TOP_FIRMS, conn, indicator, days, region_code, subcategory, limit)
