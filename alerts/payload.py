"""The content of a notification, frozen when the event is recorded: every retry sends the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import psycopg

from indicators.evaluate import Evaluation
from indicators.failures import top_failed_firms, top_failed_items
from indicators.labels import window_label
from qsmon.plans.model import Plan, PlanStatus
from qsmon.regions import name_of


@dataclass(frozen=True, slots=True)
class Event:
    """What happened to an alert, as a notification tells it."""

    alert_id: int
    event_id: int
    transition: str
    severity: str  # after the indicator's cap (alerts.lifecycle.capped)
    evaluation: Evaluation
    at: datetime
    plan_status: PlanStatus


def build_payload(
    conn: psycopg.Connection, plan: Plan, event: Event, dashboard_url: str, zone: ZoneInfo
) -> dict[str, Any]:
    """The change as channels render it; its times in the plans' zone (messages show them as they are written)."""
    e = event.evaluation
    at = event.at.astimezone(zone)
    indicator = plan.indicator(e.indicator_id)
    jurisdiction = plan.jurisdiction.code
    query = urlencode({"var-plan": plan.id, "var-indicator": indicator.id, "var-region": e.scope.region_code})
    closing = event.transition in ("resolved", "expired")
    top_items = [] if closing else top_failed_items(conn, indicator, e.days, e.scope.region_code, e.scope.subcategory)
    top_firms = [] if closing else top_failed_firms(conn, indicator, e.days, e.scope.region_code, e.scope.subcategory)
    opened = conn.execute(
        "SELECT opened_at, acknowledged_at, acknowledged_by FROM alerts WHERE id = %s", (event.alert_id,)
    ).fetchone()
    return {
        "alert_id": event.alert_id,
        "event_id": event.event_id,
        "transition": event.transition,
        "severity": event.severity,
        "at": at.isoformat(),
        "opened_at": opened[0].astimezone(zone).isoformat() if opened else None,
        # Who is on it: named in every later message, until a reopening clears it (alerts.store).
        "acknowledged_at": opened[1].astimezone(zone).isoformat() if opened and opened[1] else None,
        "acknowledged_by": opened[2] if opened else None,
        "plan": plan.id,
        "plan_title": plan.title,
        "plan_status": event.plan_status.value,
        "period_start": plan.period.start.isoformat(),
        "period_end": plan.period.end.isoformat(),
        "in_force_until": plan.in_force_until.isoformat() if plan.in_force_until else None,
        "jurisdiction": jurisdiction,
        "jurisdiction_name": plan.jurisdiction.name,
        "region_level": "jurisdiction" if e.scope.region_code == jurisdiction else "region",
        "indicator": indicator.id,
        "indicator_name": indicator.name,
        "measure": indicator.measure.value,
        "region": e.scope.region_code,
        "region_name": name_of(e.scope.region_code),
        "subcategory": e.scope.subcategory,
        "window": e.window,
        "window_label": window_label(e.window),
        "first_day": e.days.first.isoformat(),
        "last_day": e.days.last.isoformat(),
        "value": e.value,
        "low": e.interval.low,
        "high": e.interval.high,
        "op": e.op.value,
        "target": e.target,
        "previous_value": e.previous_value,
        "samples": e.samples,
        "failed": e.failed,
        "state": e.state.value,
        "top_failed_items": [[c.item, c.failures] for c in top_items],
        "top_failed_firms": [[c.item, c.failures] for c in top_firms],
        "dashboard_url": f"{dashboard_url}?{query}",
    }
