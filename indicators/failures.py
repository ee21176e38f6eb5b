"""What failed within an indicator's scope: its top failed items, from the current failures."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from indicators.filter import filter_params, filter_sql
from indicators.windows import DayRange
from qsmon.plans.model import Indicator
from qsmon.regions import like_pattern

_TOP_ITEMS = f"""
SELECT item->>'item' AS name, count(*) FROM failure_current c
CROSS JOIN LATERAL jsonb_array_elements(c.failed_items) AS item
WHERE c.day BETWEEN %(first)s AND %(last)s AND {filter_sql("c")}
  AND (%(subcategory)s = '' OR c.subcategory = %(subcategory)s)
  AND c.region_code LIKE %(prefix)s
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %(limit)s
"""


@dataclass(frozen=True, slots=True)
class ItemCount:
    item: str
    failures: int


def top_failed_items(conn: psycopg.Connection, indicator: Indicator, days: DayRange, region_code: str,
                     subcategory: str = "", limit: int = 3) -> list[ItemCount]:
    """The items that failed most often among the samples the indicator counts in this region (and subcategory)."""
    rows = conn.execute(_TOP_ITEMS, {
        "first": days.first, "last": days.last, "subcategory": subcategory, "prefix": like_pattern(region_code),
        "limit": limit, **filter_params(indicator.filter),
    }).fetchall()
    return [ItemCount(str(name), int(count)) for name, count in rows]
