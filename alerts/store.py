"""Recording evaluations and moving alerts, with their notifications queued in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from alerts.evaluate import Evaluation
from alerts.lifecycle import AlertView, Decision, Policy, Transition, decide
from alerts.routing import Channel, wants

NOTIFY_CHANNEL = "qsmon_outbox"

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


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    alert_id: int
    event_id: int
    transition: Transition
    evaluation: Evaluation


def _silenced(conn: psycopg.Connection, e: Evaluation, now: datetime) -> bool:
    row = conn.execute(
        "SELECT 1 FROM silences WHERE until > %s AND (plan_id IS NULL OR plan_id = %s)"
        " AND (indicator_id IS NULL OR indicator_id = %s)"
        " AND (region_code IS NULL OR %s LIKE rtrim(rtrim(region_code, '0'), '0') || '%%') LIMIT 1",
        (now, e.plan_id, e.indicator_id, e.scope.region_code)).fetchone()
    return row is not None


def _figures(e: Evaluation) -> tuple[Any, ...]:
    return (e.value, e.interval.low, e.interval.high, e.samples, e.failed, e.target)


def _apply_decision(conn: psycopg.Connection, e: Evaluation, decision: Decision, alert_id: int | None,
                    now: datetime) -> int | None:
    if decision.transition is Transition.OPENED:
        row = conn.execute(
            "INSERT INTO alerts (plan_id, indicator_id, region_code, subcategory, window_name, status, severity,"
            " opened_at, updated_at, value, low, high, tested, failed, target)"
            " VALUES (%s, %s, %s, %s, %s, 'firing', %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (*e.key, decision.severity, now, now, *_figures(e))).fetchone()
        return int(row[0]) if row else None
    if alert_id is None:
        return None
    if decision.transition is Transition.REOPENED:
        conn.execute("UPDATE alerts SET status = 'firing', severity = %s, resolved_at = NULL, ok_since = NULL,"
                     " acknowledged_at = NULL, acknowledged_by = NULL, updated_at = %s, value = %s, low = %s,"
                     " high = %s, tested = %s, failed = %s, target = %s WHERE id = %s",
                     (decision.severity, now, *_figures(e), alert_id))
    elif decision.transition is Transition.RESOLVED:
        conn.execute("UPDATE alerts SET status = 'resolved', resolved_at = %s, ok_since = %s, updated_at = %s,"
                     " value = %s, low = %s, high = %s, tested = %s, failed = %s, target = %s WHERE id = %s",
                     (now, decision.ok_since, now, *_figures(e), alert_id))
    elif decision.touch:
        conn.execute("UPDATE alerts SET severity = %s, ok_since = %s, updated_at = %s, value = %s, low = %s,"
                     " high = %s, tested = %s, failed = %s, target = %s WHERE id = %s",
                     (decision.severity, decision.ok_since, now, *_figures(e), alert_id))
    return alert_id


def record(conn: psycopg.Connection, evaluations: Sequence[Evaluation], now: datetime, policy: Policy,
           channels: Sequence[Channel], payload: Any) -> list[RecordedEvent]:
    """Store evaluations, move alerts, and queue one outbox row per (event, routed channel): one transaction."""
    events: list[RecordedEvent] = []
    with conn.transaction():
        for e in evaluations:
            conn.execute(_UPSERT_EVALUATION, (
                *e.key, e.days.first, e.days.last, e.samples, e.failed, e.value, e.interval.low, e.interval.high,
                e.op.value, e.target, e.previous_value, e.state.value, now))
            row = conn.execute(_LATEST_ALERT, e.key).fetchone()
            view = AlertView(row[1] == "firing", row[2], row[3], row[4]) if row else None
            decision = decide(view, e.state, now, policy)
            alert_id = _apply_decision(conn, e, decision, int(row[0]) if row else None, now)
            if decision.transition is None or alert_id is None:
                continue
            event = conn.execute(
                "INSERT INTO alert_events (alert_id, at, kind, severity, value, details) VALUES (%s, %s, %s, %s,"
                " %s, %s) RETURNING id",
                (alert_id, now, decision.transition.value, decision.severity, e.value,
                 orjson.dumps({"samples": e.samples, "failed": e.failed, "low": e.interval.low,
                               "high": e.interval.high, "target": e.target, "state": e.state.value}).decode()),
            ).fetchone()
            if event is None:  # INSERT … RETURNING always returns its row
                continue
            recorded = RecordedEvent(alert_id, int(event[0]), decision.transition, e)
            events.append(recorded)
            if _silenced(conn, e, now):
                continue
            for channel in channels:
                if not wants(channel, e, decision.severity or e.state.value):
                    continue
                conn.execute(
                    "INSERT INTO notification_outbox (alert_id, event_id, channel, idempotency_key, payload)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING",
                    (alert_id, recorded.event_id, channel.name, f"qsmon-{alert_id}-{recorded.event_id}-{channel.name}",
                     orjson.dumps(payload(conn, recorded, decision.severity)).decode()))
        if events:
            conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return events
