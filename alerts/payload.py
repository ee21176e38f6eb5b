"""The content of a notification, frozen when the event is recorded: every retry sends the same thing."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import psycopg

from alerts.evaluate import Evaluation
from qsmon.plans.model import Plan
from qsmon.regions import like_pattern, name_of

WINDOW_LABELS = {
    "month_to_date": "本月", "quarter_to_date": "本季度", "year_to_date": "本年度", "plan_period": "规划期",
}
MEASURE_LABELS = {"pass_rate": "合格率", "fail_rate": "不合格率", "grade_rate": "达标比例", "mean_score": "平均得分"}
TRANSITION_LABELS = {"opened": "告警", "reopened": "再次告警", "escalated": "告警升级", "resolved": "已恢复"}
SEVERITY_LABELS = {"critical": "严重", "warning": "警告"}


def window_label(window: str) -> str:
    if window.startswith("rolling_"):
        return f"近{window.removeprefix('rolling_').removesuffix('d')}天"
    return WINDOW_LABELS.get(window, window)


_TOP_ITEMS = """
SELECT item->>'item' AS name, count(*) FROM failure_current c
CROSS JOIN LATERAL jsonb_array_elements(c.failed_items) AS item
WHERE c.day BETWEEN %(first)s AND %(last)s AND c.category = ANY(%(categories)s)
  AND (cardinality(%(sampling_types)s::text[]) = 0 OR c.sampling_type = ANY(%(sampling_types)s))
  AND (cardinality(%(stages)s::text[]) = 0 OR c.stage = ANY(%(stages)s))
  AND (%(subcategory)s = '' OR c.subcategory = %(subcategory)s)
  AND c.region_code LIKE %(prefix)s
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3
"""


def top_failed_items(conn: psycopg.Connection, plan: Plan, e: Evaluation) -> list[tuple[str, int]]:
    indicator = plan.indicator(e.indicator_id)
    rows = conn.execute(_TOP_ITEMS, {
        "first": e.days.first, "last": e.days.last, "categories": [c.value for c in indicator.filter.categories],
        "sampling_types": [s.value for s in indicator.filter.sampling_types],
        "stages": [s.value for s in indicator.filter.stages], "subcategory": e.scope.subcategory,
        "prefix": like_pattern(e.scope.region_code),
    }).fetchall()
    return [(str(name), int(count)) for name, count in rows]


def build_payload(conn: psycopg.Connection, plan: Plan, alert_id: int, event_id: int, transition: str,
                  severity: str, e: Evaluation, dashboard_url: str, at: datetime) -> dict[str, Any]:
    indicator = plan.indicator(e.indicator_id)
    query = urlencode({"var-plan": plan.id, "var-indicator": indicator.id, "var-region": e.scope.region_code})
    link = f"{dashboard_url}?{query}"
    return {
        "alert_id": alert_id, "event_id": event_id, "transition": transition, "severity": severity,
        "at": at.isoformat(), "plan": plan.id, "plan_title": plan.title, "indicator": indicator.id,
        "indicator_name": indicator.name, "measure": indicator.measure.value, "region": e.scope.region_code,
        "region_name": name_of(e.scope.region_code), "subcategory": e.scope.subcategory, "window": e.window,
        "window_label": window_label(e.window), "first_day": e.days.first.isoformat(),
        "last_day": e.days.last.isoformat(), "value": e.value, "low": e.interval.low, "high": e.interval.high,
        "op": e.op.value, "target": e.target, "previous_value": e.previous_value, "samples": e.samples,
        "failed": e.failed, "state": e.state.value,
        "top_failed_items": top_failed_items(conn, plan, e) if transition != "resolved" else [],
        "dashboard_url": link,
    }
