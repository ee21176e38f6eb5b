"""Recording evaluations: each moves its key's alert as the lifecycle decides, and the resulting events are queued
for the channels that want them, all in one transaction. Reminders and closings announce through the same path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from alerts import store
from alerts.lifecycle import Policy, Transition, advance, decide
from indicators.evaluate import Evaluation
from notify.held import hold
from notify.outbox import enqueue
from notify.routing import Channel, wants


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    alert_id: int
    event_id: int
    transition: Transition
    severity: str
    evaluation: Evaluation


# Builds an event's notification payload (alerts.payload), frozen at recording time.
Payload = Callable[[psycopg.Connection, RecordedEvent], dict[str, Any]]


def announce(
    conn: psycopg.Connection,
    alert_id: int,
    transition: Transition,
    severity: str,
    e: Evaluation,
    now: datetime,
    channels: Sequence[Channel],
    payload: Payload,
) -> RecordedEvent:
    """Record the event and queue it for every channel that wants it, unless a silence matches it; a recovery
    under a silence that announces recoveries is held until the silence ends (notify.held)."""
    event_id = store.insert_event(conn, alert_id, transition.value, severity, e, now)
    recorded = RecordedEvent(alert_id, event_id, transition, severity, e)
    routed = [channel for channel in channels if wants(channel, e, severity)]
    silence = store.silence_of(conn, e, severity, now)
    if silence is not None:
        if transition is Transition.RESOLVED and silence.announce_recoveries and routed:
            body = payload(conn, recorded)
            for channel in routed:
                hold(
                    conn,
                    alert_id=alert_id,
                    event_id=event_id,
                    channel=channel.name,
                    group_key=channel.group_key(body),
                    payload=body,
                    held_by=silence.holder,
                    now=now,
                )
        return recorded
    body = payload(conn, recorded) if routed else {}
    for channel in routed:
        enqueue(
            conn,
            alert_id=alert_id,
            event_id=event_id,
            channel=channel.name,
            group_key=channel.group_key(body),
            payload=body,
        )
    if routed:
        store.mark_notified(conn, alert_id, now)
    return recorded


def record(
    conn: psycopg.Connection,
    evaluations: Sequence[Evaluation],
    now: datetime,
    policy: Policy,
    channels: Sequence[Channel],
    payload: Payload,
) -> list[RecordedEvent]:
    """Store evaluations, move alerts, and queue one outbox row per (event, routed channel): one transaction.

    The caller wakes the notifier after committing (notify.outbox.wake_notifier): outside the transaction, so a
    NOTIFY queue that another role filled cannot make PostgreSQL refuse the commit.
    """
    events: list[RecordedEvent] = []
    with conn.transaction():
        for e in evaluations:
            store.upsert_evaluation(conn, e, now)
            latest = store.latest_alert(conn, e)
            alert_id, current = latest if latest else (None, None)
            decision = decide(current, e.state, now, policy, ceiling=e.severity)
            after = advance(current, decision, now)
            if after is None:
                continue
            if decision.transition is Transition.OPENED:
                alert_id = store.insert_alert(conn, e, after, now)
            elif alert_id is not None and decision.touch:
                store.update_alert(conn, alert_id, e, after, now, reopened=decision.transition is Transition.REOPENED)
            if decision.transition is None or alert_id is None:
                continue
            events.append(announce(conn, alert_id, decision.transition, after.severity, e, now, channels, payload))
    return events
