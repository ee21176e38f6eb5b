"""Delivering the outbox in groups: one message per channel and group, with retries and exponential backoff.

Rows of one channel with the same group key (the channel's ``group_by`` labels) go out as one message, rendered
from all their payloads, once the group's first row is ``group_wait`` old and at most every ``group_interval``.
A receiver that is down gets nothing until it answers, then the pending changes once: a row stays in the outbox
until its channel took the message holding it, and ``SKIP LOCKED`` keeps two notifiers from sending the same rows.
Receivers de-duplicate with the ``Idempotency-Key`` (webhook) or Message-ID (mail), derived from the rows a
message carries, should a timeout hide a delivery that did arrive.
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
from prometheus_client import CollectorRegistry, Counter

from notify.channels import send
from notify.exceptions import DeliveryError
from notify.message import Message
from notify.outbox import NOTIFY_CHANNEL
from notify.routing import Channel
from qsmon.exceptions import StorageError
from qsmon.storage import connect
from qsmon.storage.locks import NOTIFIER, SCOPED_OBJID

# Turns a group's payloads into the one message its channel renders (alerts.messages), or None when there is
# nothing left to say (every change folded into another message).
Render = Callable[[Channel, list[dict[str, Any]]], Message | None]

log = logging.getLogger("qsmon.notifier")

_ONE_AT_A_TIME = f"SELECT pg_try_advisory_xact_lock(%(class)s, {SCOPED_OBJID})"
_PENDING = """
SELECT o.id, o.channel, o.group_key, o.payload, o.attempts, o.created_at, o.next_attempt_at, now(),
    (SELECT max(d.delivered_at) FROM notification_outbox d
     WHERE d.channel = o.channel AND d.group_key = o.group_key AND d.delivered_at IS NOT NULL) AS last_sent
FROM notification_outbox o
WHERE o.delivered_at IS NULL
ORDER BY o.id
LIMIT 1000
FOR UPDATE OF o SKIP LOCKED
"""


@dataclass
class _Group:
    channel: str
    now: datetime
    first_created: datetime
    retry_at: datetime
    last_sent: datetime | None
    ids: list[int] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0

    def due_at(self, channel: Channel) -> datetime:
        """When the group may go out: after any backoff, its group_wait, and the group_interval since its last."""
        moments = [self.retry_at, self.first_created + timedelta(seconds=channel.group_wait)]
        if self.last_sent is not None:
            moments.append(self.last_sent + timedelta(seconds=channel.group_interval))
        return max(moments)


def _groups(rows: list[tuple[Any, ...]]) -> list[_Group]:
    groups: dict[tuple[str, str], _Group] = {}
    for row_id, channel, group_key, payload, attempts, created, retry_at, now, last_sent in rows:
        group = groups.setdefault((channel, group_key), _Group(channel, now, created, retry_at, last_sent))
        group.ids.append(row_id)
        group.payloads.append(payload)
        group.attempts = max(group.attempts, attempts)
        group.retry_at = max(retry_at, group.retry_at)  # rows are in id order: the first is the oldest
    return list(groups.values())


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.delivered = Counter("qsmon_notifications_delivered_total", "Notifications a channel took",
                                 ["channel"], registry=registry)
        self.failed = Counter("qsmon_notification_failures_total", "Delivery attempts that failed",
                              ["channel"], registry=registry)


class Notifier:
    def __init__(self, dsn: str, channels: Mapping[str, Channel], registry: CollectorRegistry, render: Render, *,
                 max_backoff: timedelta = timedelta(seconds=30), client: httpx.Client | None = None) -> None:
        self.dsn = dsn
        self.channels = dict(channels)
        self.render = render
        self.max_backoff = max_backoff
        self.metrics = NotifierMetrics(registry)
        self.client = client or httpx.Client()
        self.next_due_s: float | None = None  # seconds until the earliest waiting group may go out
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.dsn, application_name="qsmon-notifier")
        return self._conn

    def _channel(self, name: str) -> Channel:
        channel = self.channels.get(name)
        if channel is None:
            raise DeliveryError("channel no longer configured", channel=name)
        return channel

    def deliver_due(self) -> int:
        """One pass over the pending rows: every group that is due goes out; returns the messages delivered."""
        conn = self._connection()
        delivered = 0
        self.next_due_s = None
        with conn.transaction():
            # One notifier delivers at a time (several alert engines may run): rows split between two would
            # break groups apart. The other one finds the lock taken and waits for its next turn.
            if not conn.execute(_ONE_AT_A_TIME, {"class": NOTIFIER, "name": "outbox"}).fetchone()[0]:  # type: ignore[index]
                return 0
            for group in _groups(conn.execute(_PENDING).fetchall()):
                try:
                    channel = self._channel(group.channel)
                    wait = (group.due_at(channel) - group.now).total_seconds()
                    if wait > 0:  # not yet: remember when, so the loop wakes then rather than at its next poll
                        self.next_due_s = min(wait, self.next_due_s if self.next_due_s is not None else wait)
                        continue
                    message = self.render(channel, group.payloads)
                    if message is not None:  # nothing left to say: every change folded into another message
                        send(self.client, channel, message, f"qsmon-{group.channel}-{group.ids[0]}-{len(group.ids)}")
                except DeliveryError as exc:
                    backoff = min(self.max_backoff, timedelta(seconds=2 ** min(group.attempts, 16)))
                    conn.execute("UPDATE notification_outbox SET attempts = attempts + 1, last_error = %s,"
                                 " next_attempt_at = now() + %s WHERE id = ANY(%s)",
                                 (str(exc)[:1000], backoff, group.ids))
                    self.metrics.failed.labels(group.channel).inc()
                    log.warning("message of %d changes via %s failed (attempt %d): %s", len(group.ids),
                                group.channel, group.attempts + 1, exc)
                    continue
                conn.execute("UPDATE notification_outbox SET attempts = attempts + 1, delivered_at = now(),"
                             " last_error = NULL WHERE id = ANY(%s)", (group.ids,))
                self.metrics.delivered.labels(group.channel).inc()
                delivered += 1
        return delivered

    def run(self, stop: threading.Event, idle_s: float = 1.0) -> None:
        """Deliver whenever the outbox is notified, and at least every ``idle_s`` for retries that fall due."""
        listener: psycopg.Connection | None = None
        while not stop.is_set():
            try:
                if listener is None or listener.closed:
                    listener = connect(self.dsn, autocommit=True, application_name="qsmon-notifier-listen")
                    listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
                while self.deliver_due():
                    pass
                wake = idle_s if self.next_due_s is None else min(idle_s, self.next_due_s + 0.01)
                select.select([listener.fileno()], [], [], wake)
                for _ in listener.notifies(timeout=0):
                    pass
            except (psycopg.Error, OSError, StorageError) as exc:
                log.warning("notifier lost the database, retrying: %s", exc)
                if listener is not None:
                    listener.close()
                listener = None
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                stop.wait(2.0)
