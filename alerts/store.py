"""The alerts' tables, SQL only: evaluations, alerts, their events, silences. Decisions live in alerts.lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from alerts.lifecycle import AlertView
from indicators.evaluate import Evaluation, Scope
from indicators.stats import Interval, State
from indicators.windows import DayRange
from notify.silences import Silence, live_silence
from notify.silences import silenced as notify_silenced
from qsmon.plans.model import Op

_UPSERT_EVALUATION = """
INSERT INTO indicator_evaluations (plan_id, indicator_id, region_code, subcategory, window_name, first_day,
    last_day, tested, failed, value, low, high, op, target, previous_value, state, evaluated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (plan_id, indicator_id, region_code, subcategory, window_name) DO UPDATE SET
    first_day = excluded.first_day, last_day = excluded.last_day, tested = excluded.tested,
    failed = excluded.failed, value = excluded.value, low = excluded.low, high = excluded.high, op = excluded.op,
    target = excluded.target, previous_value = excluded.previous_value, state = excluded.state,
    evaluated_at = excluded.evaluated_at
"""

_LATEST_ALERT = """
SELECT id, status, severity, ok_since, resolved_at FROM alerts
WHERE plan_id = %s AND indicator_id = %s AND region_code = %s AND subcategory = %s AND window_name = %s
ORDER BY (status = 'firing') DESC, opened_at DESC LIMIT 1
FOR UPDATE
"""

_INSERT_ALERT = """
INSERT INTO alerts (plan_id, indicator_id, region_code, subcategory, window_name, status, severity, opened_at,
    updated_at, value, low, high, tested, failed, target)
VALUES (%s, %s, %s, %s, %s, 'firing', %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
"""

# A reopened alert is a new episode of the same alert: whoever acknowledged the last one has not seen this one.
_UPDATE_ALERT = """
UPDATE alerts SET status = %(status)s, severity = %(severity)s, ok_since = %(ok_since)s,
    resolved_at = %(resolved_at)s, updated_at = %(now)s, value = %(value)s, low = %(low)s, high = %(high)s,
    tested = %(tested)s, failed = %(failed)s, target = %(target)s,
    acknowledged_at = CASE WHEN %(reopened)s THEN NULL ELSE acknowledged_at END,
    acknowledged_by = CASE WHEN %(reopened)s THEN NULL ELSE acknowledged_by END
WHERE id = %(id)s
"""


def upsert_evaluation(conn: psycopg.Connection, e: Evaluation, now: datetime) -> None:
    conn.execute(
        _UPSERT_EVALUATION,
        (
            *e.key,
            e.days.first,
            e.days.last,
            e.samples,
            e.failed,
            e.value,
            e.interval.low,
            e.interval.high,
            e.op.value,
            e.target,
            e.previous_value,
            e.state.value,
            now,
        ),
    )


def latest_alert(conn: psycopg.Connection, e: Evaluation) -> tuple[int, AlertView] | None:
    """The key's current alert (the firing one, else the newest), locked until the transaction ends."""
    row = conn.execute(_LATEST_ALERT, e.key).fetchone()
    if row is None:
        return None
    return int(row[0]), AlertView(row[1] == "firing", row[2], row[3], row[4])


def _figures(e: Evaluation) -> dict[str, Any]:
    return {
        "value": e.value,
        "low": e.interval.low,
        "high": e.interval.high,
        "tested": e.samples,
        "failed": e.failed,
        "target": e.target,
    }


def insert_alert(conn: psycopg.Connection, e: Evaluation, view: AlertView, now: datetime) -> int:
    f = _figures(e)
    row = conn.execute(
        _INSERT_ALERT,
        (*e.key, view.severity, now, now, f["value"], f["low"], f["high"], f["tested"], f["failed"], f["target"]),
    ).fetchone()
    if row is None:  # INSERT … RETURNING always returns its row
        raise RuntimeError("alert insert returned nothing")
    return int(row[0])


def update_alert(
    conn: psycopg.Connection, alert_id: int, e: Evaluation, view: AlertView, now: datetime, *, reopened: bool
) -> None:
    conn.execute(
        _UPDATE_ALERT,
        {
            "id": alert_id,
            "status": "firing" if view.firing else "resolved",
            "severity": view.severity,
            "ok_since": view.ok_since,
            "resolved_at": view.resolved_at,
            "now": now,
            "reopened": reopened,
            **_figures(e),
        },
    )


def insert_event(
    conn: psycopg.Connection, alert_id: int, kind: str, severity: str | None, e: Evaluation, now: datetime
) -> int:
    details = {
        "samples": e.samples,
        "failed": e.failed,
        "low": e.interval.low,
        "high": e.interval.high,
        "target": e.target,
        "state": e.state.value,
    }
    row = conn.execute(
        "INSERT INTO alert_events (alert_id, at, kind, severity, value, details) VALUES (%s, %s, %s, %s, %s, %s)"
        " RETURNING id",
        (alert_id, now, kind, severity, e.value, orjson.dumps(details).decode()),
    ).fetchone()
    if row is None:
        raise RuntimeError("event insert returned nothing")
    return int(row[0])


def silenced(conn: psycopg.Connection, e: Evaluation, severity: str, now: datetime) -> bool:
    return notify_silenced(
        conn,
        plan_id=e.plan_id,
        indicator_id=e.indicator_id,
        region_code=e.scope.region_code,
        window=e.window,
        severity=severity,
        now=now,
    )


def silence_of(conn: psycopg.Connection, e: Evaluation, severity: str, now: datetime) -> Silence | None:
    return live_silence(
        conn,
        plan_id=e.plan_id,
        indicator_id=e.indicator_id,
        region_code=e.scope.region_code,
        window=e.window,
        severity=severity,
        now=now,
    )


def mark_notified(conn: psycopg.Connection, alert_id: int, now: datetime) -> None:
    conn.execute("UPDATE alerts SET last_notified_at = %s WHERE id = %s", (now, alert_id))


@dataclass(frozen=True, slots=True)
class FiringAlert:
    alert_id: int
    severity: str
    last_notified_at: datetime | None
    last_change_at: datetime  # its last transition (opened, reopened, escalated)
    evaluation: Evaluation | None  # the key's latest evaluation
    acknowledged_at: datetime | None = None
    reminders_sent: int = 0  # reminders since its last change (the backoff's step)


_FIRING = """
SELECT a.id, a.severity, a.last_notified_at, c.changed_at,
    e.first_day, e.last_day, e.tested, e.failed, e.value, e.low, e.high, e.op, e.target, e.previous_value, e.state,
    a.plan_id, a.indicator_id, a.region_code, a.subcategory, a.window_name, a.acknowledged_at,
    (SELECT count(*) FROM alert_events r WHERE r.alert_id = a.id AND r.kind = 'repeated' AND r.at > c.changed_at)
FROM alerts a
CROSS JOIN LATERAL (SELECT max(ev.at) AS changed_at FROM alert_events ev WHERE ev.alert_id = a.id
                    AND ev.kind IN ('opened', 'reopened', 'escalated')) c
LEFT JOIN indicator_evaluations e USING (plan_id, indicator_id, region_code, subcategory, window_name)
WHERE a.status = 'firing' AND a.plan_id = %s
ORDER BY a.id
FOR UPDATE OF a
"""


def firing_alerts(conn: psycopg.Connection, plan_id: str, severity_of: dict[str, str]) -> list[FiringAlert]:
    """The plan's firing alerts with their latest evaluation, locked until the transaction ends."""
    alerts = []
    for row in conn.execute(_FIRING, (plan_id,)).fetchall():
        (
            alert_id,
            severity,
            notified,
            changed,
            first,
            last,
            tested,
            failed,
            value,
            low,
            high,
            op,
            target,
            previous,
            state,
            plan,
            indicator,
            region,
            subcategory,
            window,
            acknowledged,
            reminders,
        ) = row
        evaluation = (
            None
            if first is None
            else Evaluation(
                plan,
                indicator,
                Scope(region, subcategory),
                window,
                DayRange(first, last),
                int(tested),
                int(failed),
                value,
                Interval(low, high),
                Op(op),
                target,
                previous,
                State(state),
                severity_of.get(indicator, "warning"),
            )
        )
        alerts.append(FiringAlert(int(alert_id), severity, notified, changed, evaluation, acknowledged, int(reminders)))
    return alerts


def close_alert(conn: psycopg.Connection, alert_id: int, now: datetime) -> None:
    """Closed without recovering: its plan is no longer in force, or no longer evaluates it."""
    conn.execute(
        "UPDATE alerts SET status = 'resolved', resolved_at = %s, updated_at = %s WHERE id = %s", (now, now, alert_id)
    )


def retire_alerts(conn: psycopg.Connection, evaluated: set[tuple[str, str, str]], now: datetime) -> list[int]:
    """Close the firing alerts no evaluation reaches any more, their (plan, indicator, window) gone from the active
    plans (a plan no longer in QSMON_ACTIVE_PLANS, an indicator renamed or removed, a window dropped): nothing
    would ever resolve them, and Alertmanager would be told they fire for ever. Returns their ids."""
    rows = conn.execute(
        "SELECT id, plan_id, indicator_id, window_name FROM alerts WHERE status = 'firing' ORDER BY id FOR UPDATE"
    ).fetchall()
    retired = [
        int(alert_id) for alert_id, plan, indicator, window in rows if (plan, indicator, window) not in evaluated
    ]
    for alert_id in retired:
        close_alert(conn, alert_id, now)
    # Their changes still waiting would announce an alert that is closed (and re-fire it in Alertmanager): marked
    # done, unsent, with the reason.
    conn.execute(
        "UPDATE notification_outbox SET delivered_at = %s, last_error = 'not sent: the alert was retired"
        " (no plan in use evaluates it)' WHERE alert_id = ANY(%s) AND delivered_at IS NULL",
        (now, retired),
    )
    return retired
