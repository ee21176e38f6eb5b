"""Recording evaluations: each moves its key's alert as the lifecycle decides, and the resulting events are queued
for the channels that want them, all in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from alerts import store
from alerts.lifecycle import Policy, Transition, advance, decide
from indicators.evaluate import Evaluation
from notify.outbox import enqueue
from notify.routing import Channel, wants


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    alert_id: int
    event_id: int
    transition: Transition
    evaluation: Evaluation


# Builds an event's notification payload (alerts.payload), frozen at recording time.
Payload = Callable[[psycopg.Connection, RecordedEvent, str | None], dict[str, Any]]


def record(conn: psycopg.Connection, evaluations: Sequence[Evaluation], now: datetime, policy: Policy,
           channels: Sequence[Channel], payload: Payload) -> list[RecordedEvent]:
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
            decision = decide(current, e.state, now, policy)
            after = advance(current, decision, now)
            if after is None:
                continue
            if decision.transition is Transition.OPENED:
                alert_id = store.insert_alert(conn, e, after, now)
            elif alert_id is not None and decision.touch:
                store.update_alert(conn, alert_id, e, after, now,
                                   reopened=decision.transition is Transition.REOPENED)
            if decision.transition is None or alert_id is None:
                continue
            event_id = store.insert_event(conn, alert_id, decision.transition.value, decision.severity, e, now)
            recorded = RecordedEvent(alert_id, event_id, decision.transition, e)
            events.append(recorded)
            if store.silenced(conn, e, now):
                continue
            for channel in channels:
                if wants(channel, e, decision.severity or e.state.value):
                    enqueue(conn, alert_id=alert_id, event_id=event_id, channel=channel.name,
                            payload=payload(conn, recorded, decision.severity))
    return events
