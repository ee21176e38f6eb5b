"""The content of a notification, frozen when the event is recorded: every retry sends the same thing."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import psycopg

from indicators.evaluate import Evaluation
from indicators.failures import top_failed_items
from indicators.labels import window_label
from qsmon.plans.model import Plan
from qsmon.regions import name_of


def build_payload(conn: psycopg.Connection, plan: Plan, alert_id: int, event_id: int, transition: str,
                  severity: str, e: Evaluation, dashboard_url: str, at: datetime) -> dict[str, Any]:
    indicator = plan.indicator(e.indicator_id)
    query = urlencode({"var-plan": plan.id, "var-indicator": indicator.id, "var-region": e.scope.region_code})
    top = ([] if transition == "resolved" else
           top_failed_items(conn, indicator, e.days, e.scope.region_code, e.scope.subcategory))
    return {
        "alert_id": alert_id, "event_id": event_id, "transition": transition, "severity": severity,
        "at": at.isoformat(), "plan": plan.id, "plan_title": plan.title, "indicator": indicator.id,
        "indicator_name": indicator.name, "measure": indicator.measure.value, "region": e.scope.region_code,
        "region_name": name_of(e.scope.region_code), "subcategory": e.scope.subcategory, "window": e.window,
        "window_label": window_label(e.window), "first_day": e.days.first.isoformat(),
        "last_day": e.days.last.isoformat(), "value": e.value, "low": e.interval.low, "high": e.interval.high,
        "op": e.op.value, "target": e.target, "previous_value": e.previous_value, "samples": e.samples,
        "failed": e.failed, "state": e.state.value,
        "top_failed_items": [[c.item, c.failures] for c in top],
        "dashboard_url": f"{dashboard_url}?{query}",
    }
