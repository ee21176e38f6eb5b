"""Notifications held back, then sent: a recovery hidden by a silence that asks to announce recoveries, and what a
channel's mute interval holds. When what held them ends, they go to the outbox together, so the channel's grouping
makes one summary message of them (the latest change of each alert)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
import psycopg

from notify.outbox import enqueue
from notify.silences import silence_live

# Whether ``held_by`` (e.g. 'silence:12', 'mute:nights') still holds a row of ``channel`` at ``now``.
Holding = Callable[[psycopg.Connection, str, str, datetime], bool]


def hold(
    conn: psycopg.Connection,
    *,
    alert_id: int,
    event_id: int,
    channel: str,
    group_key: str,
    payload: dict[str, Any],
    held_by: str,
    now: datetime,
) -> None:
    """Keep one change for one channel until ``held_by`` ends; once (a retried transaction holds nothing twice)."""
    conn.execute(
        "INSERT INTO held_notifications (alert_id, event_id, channel, group_key, payload, held_by, held_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (alert_id, event_id, channel) DO NOTHING",
        (alert_id, event_id, channel, group_key, orjson.dumps(payload).decode(), held_by, now),
    )


def release(conn: psycopg.Connection, now: datetime, holding: Holding) -> int:
    """Queue every held change whose holder has ended; returns how many were released. Commits with the caller."""
    rows = conn.execute(
        "SELECT h.id, h.alert_id, h.event_id, h.channel, h.group_key, h.payload, h.held_by, a.status = 'firing'"
        " FROM held_notifications h JOIN alerts a ON a.id = h.alert_id"
        " WHERE h.released_at IS NULL ORDER BY h.id FOR UPDATE OF h SKIP LOCKED"
    ).fetchall()
    released = []
    ended: dict[tuple[str, str], bool] = {}
    for row_id, alert_id, event_id, channel, group_key, payload, held_by, firing_again in rows:
        key = (held_by, channel)
        if key not in ended:
            ended[key] = not holding(conn, held_by, channel, now)
        if not ended[key]:
            continue
        released.append(row_id)
        if firing_again:  # a recovery that did not last: the firing alert is announced when its silence ends
            continue
        enqueue(
            conn,
            alert_id=alert_id,
            event_id=event_id,
            channel=channel,
            group_key=group_key,
            payload={**payload, "held_by": held_by},
        )
    if released:
        conn.execute("UPDATE held_notifications SET released_at = %s WHERE id = ANY(%s)", (now, released))
    return len(released)


def silence_holding(conn: psycopg.Connection, held_by: str, _channel: str, now: datetime) -> bool:
    """What holds a silence's recoveries: the silence, while it is live."""
    kind, _, ident = held_by.partition(":")
    return kind == "silence" and ident.isdigit() and silence_live(conn, int(ident), now)
