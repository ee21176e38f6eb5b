"""The notification outbox: rows written in the transaction that decided to notify, delivered by notify.delivery."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import psycopg

log = logging.getLogger("qsmon.notifier")
# A wake-up call only: the notifier reads no payload from it (any role may NOTIFY on any channel).
NOTIFY_CHANNEL = "qsmon_outbox"


def enqueue(
    conn: psycopg.Connection, *, alert_id: int, event_id: int, channel: str, group_key: str, payload: dict[str, Any]
) -> None:
    """Queue one change for one channel, once; rows with the same group key go out as one message."""
    conn.execute(
        "INSERT INTO notification_outbox (alert_id, event_id, channel, group_key, idempotency_key, payload)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING",
        (
            alert_id,
            event_id,
            channel,
            group_key,
            f"qsmon-{alert_id}-{event_id}-{channel}",
            orjson.dumps(payload).decode(),
        ),
    )


def enqueue_case_notice(
    conn: psycopg.Connection,
    *,
    case_id: int | None,
    channel: str,
    group_key: str,
    once_key: str,
    payload: dict[str, Any],
) -> bool:
    """Queue a case notice or digest for one channel, once per ``once_key``; True when queued now."""
    cur = conn.execute(
        "INSERT INTO notification_outbox (case_id, channel, group_key, idempotency_key, payload)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING",
        (case_id, channel, group_key, f"qsmon-{once_key}-{channel}", orjson.dumps(payload).decode()),
    )
    return cur.rowcount == 1


def wake_notifier(conn: psycopg.Connection) -> None:
    """Best effort, after the outbox rows are committed: the notifier also looks every second on its own.

    Never inside the transaction that writes the rows: any role may NOTIFY, and once the notification queue is
    full PostgreSQL fails every committing transaction that notified.
    """
    try:
        conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        conn.commit()
    except psycopg.Error as exc:
        conn.rollback()
        log.warning("could not wake the notifier (it polls anyway): %s", exc)
