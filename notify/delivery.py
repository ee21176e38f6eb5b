"""Delivering the outbox: due rows, in order per alert and channel, with retries and exponential backoff.

A receiver that is down gets nothing until it answers, then every pending notification once, in order: a row
stays in the outbox until its channel took it, and ``SKIP LOCKED`` keeps two notifiers from sending the same
row. Receivers de-duplicate with the ``Idempotency-Key`` (webhook) or Message-ID (mail) should a timeout hide a
delivery that did arrive.
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import httpx
import psycopg
from prometheus_client import CollectorRegistry, Counter

from notify.channels import send
from notify.exceptions import DeliveryError
from notify.message import Message
from notify.outbox import NOTIFY_CHANNEL
from notify.routing import Channel
from qsmon.storage import connect

# Turns an outbox row's payload into the message channels render (the alerts' payloads: alerts.messages).
Render = Callable[[dict[str, Any]], Message]

log = logging.getLogger("qsmon.notifier")

_DUE = """
SELECT o.id, o.channel, o.idempotency_key, o.payload, o.attempts
FROM notification_outbox o
WHERE o.delivered_at IS NULL AND o.next_attempt_at <= now()
  AND NOT EXISTS (SELECT 1 FROM notification_outbox earlier
                  WHERE earlier.alert_id = o.alert_id AND earlier.channel = o.channel
                    AND earlier.delivered_at IS NULL AND earlier.id < o.id)
ORDER BY o.id
LIMIT 50
FOR UPDATE OF o SKIP LOCKED
"""


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
        """One pass over the due rows; returns how many were delivered."""
        conn = self._connection()
        delivered = 0
        with conn.transaction():
            for row_id, channel_name, key, payload, attempts in conn.execute(_DUE).fetchall():
                try:
                    send(self.client, self._channel(channel_name), self.render(payload), key)
                except DeliveryError as exc:
                    backoff = min(self.max_backoff, timedelta(seconds=2 ** min(attempts, 16)))
                    conn.execute("UPDATE notification_outbox SET attempts = attempts + 1, last_error = %s,"
                                 " next_attempt_at = now() + %s WHERE id = %s", (str(exc)[:1000], backoff, row_id))
                    self.metrics.failed.labels(channel_name).inc()
                    log.warning("notification %s via %s failed (attempt %d): %s", key, channel_name, attempts + 1,
                                exc)
                    continue
                conn.execute("UPDATE notification_outbox SET attempts = attempts + 1, delivered_at = now(),"
                             " last_error = NULL WHERE id = %s", (row_id,))
                self.metrics.delivered.labels(channel_name).inc()
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
                select.select([listener.fileno()], [], [], idle_s)
                for _ in listener.notifies(timeout=0):
                    pass
            except (psycopg.Error, OSError) as exc:
                log.warning("notifier lost the database, retrying: %s", exc)
                if listener is not None:
                    listener.close()
                listener = None
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                stop.wait(2.0)
