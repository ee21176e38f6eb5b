"""Escalation to people: a firing alert nobody acknowledged for a step's working hours (office hours of working
days on the Chinese calendar, since its last change) is sent once to that step's channels — the city's 分管 leader,
then optionally a third. Acknowledging or resolving stops it; a silence holds it like any message."""

from __future__ import annotations

from datetime import datetime

import orjson
import psycopg

from alerts import store
from alerts.lifecycle import Transition
from alerts.recording import Payload, RecordedEvent
from alerts.reminders import ack_holds
from notify.outbox import enqueue
from notify.routing import ChannelsConfig, wants
from notify.schedule import working_hours_between
from qsmon.plans.model import Plan
from qsmon.workdays import Calendar


def _sent_levels(conn: psycopg.Connection, alert_id: int) -> set[int]:
    return {
        int(level)
        for (level,) in conn.execute(
            "SELECT (details->>'level')::int FROM alert_events WHERE alert_id = %s AND kind = 'handed_up'", (alert_id,)
        )
    }


def escalate(
    conn: psycopg.Connection,
    plan: Plan,
    now: datetime,
    config: ChannelsConfig,
    payload: Payload,
    *,
    timezone: str,
    calendar: Calendar | None = None,
) -> list[RecordedEvent]:
    """Send up what is due now, each step of each alert once; returns the events recorded."""
    if not config.escalations:
        return []
    events = []
    severity_of = {indicator.id: indicator.severity.value for indicator in plan.indicators}
    with conn.transaction():
        for alert in store.firing_alerts(conn, plan.id, severity_of):
            e = alert.evaluation
            if e is None or e.indicator_id not in severity_of or ack_holds(alert.acknowledged_at, alert.last_change_at):
                continue
            if store.silenced(conn, e, alert.severity, now):
                continue
            sent = _sent_levels(conn, alert.alert_id)
            if len(sent) >= len(config.escalations):
                continue  # every step sent: nothing left to count
            hours = working_hours_between(alert.last_change_at, now, config.office_hours, timezone, calendar)
            for level, step in enumerate(config.escalations, start=1):
                if level in sent or hours < step.after_working_hours or not wants(step, e, alert.severity):
                    continue
                details = {
                    "level": level,
                    "after_working_hours": step.after_working_hours,
                    "channels": list(step.channels),
                }
                row = conn.execute(
                    "INSERT INTO alert_events (alert_id, at, kind, severity, value, details) VALUES"
                    " (%s, %s, 'handed_up', %s, %s, %s) RETURNING id",
                    (alert.alert_id, now, alert.severity, e.value, orjson.dumps(details).decode()),
                ).fetchone()
                if row is None:
                    raise RuntimeError("event insert returned nothing")
                recorded = RecordedEvent(alert.alert_id, int(row[0]), Transition.HANDED_UP, alert.severity, e)
                body = {**payload(conn, recorded), "unacknowledged_hours": step.after_working_hours}
                for name in step.channels:
                    channel = config.channel(name)
                    if channel is not None:
                        enqueue(
                            conn,
                            alert_id=alert.alert_id,
                            event_id=recorded.event_id,
                            channel=name,
                            group_key=channel.group_key(body),
                            payload=body,
                        )
                events.append(recorded)
    return events
