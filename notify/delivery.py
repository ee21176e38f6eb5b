"""Delivering the outbox in groups: one message per channel and group, with retries and exponential backoff.

Rows of one channel with the same group key (the channel's ``group_by`` labels) go out as one message, rendered
from all their payloads, once the group's first row is ``group_wait`` old and at most every ``group_interval``.
A receiver that is down gets nothing until it answers, then the pending changes once: a row stays in the outbox
until its channel took the message holding it, and an advisory lock keeps two notifiers from sending the same rows.
Each send has a deadline on the whole of it (notify.deadline), and its outcome commits at once.
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

from notify.deadline import DeadlineSender
from notify.exceptions import DeliveryError
from notify.message import Message
from notify.outbox import NOTIFY_CHANNEL
from notify.routing import Channel
from qsmon.exceptions import StorageError
from qsmon.storage import connect
from qsmon.storage.locks import NOTIFIER, SCOPED_OBJID
from qsmon.storage.sessions import bound_session

# Turns a group's payloads into the one message its channel renders (alerts.messages), or None when there is
# nothing left to say (every change folded into another message).
Render = Callable[[Channel, list[dict[str, Any]]], Message | None]
# Whether a channel's mute interval is active now (notify.routing.ChannelsConfig.muted): its groups wait, and go out
# as one message each when it ends.
Muted = Callable[[Channel], bool]
# While a channel is muted, the notifier looks again this often.
MUTED_RECHECK_S = 30.0

log = logging.getLogger("qsmon.notifier")

# A session lock held for one pass: each group's outcome commits as soon as it is known, so a lost connection or
# a kill in the middle of a pass never sends again what a receiver already took.
_ONE_AT_A_TIME = f"SELECT pg_try_advisory_lock(%(class)s, {SCOPED_OBJID})"
_DONE = f"SELECT pg_advisory_unlock(%(class)s, {SCOPED_OBJID})"
_LOCK = {"class": NOTIFIER, "name": "outbox"}
# Every group that waits, each with its oldest rows: a channel's backlog (a receiver down for weeks) cannot fill
# the pass and starve the others. One message carries at most this many changes; the rest follow in the next.
MAX_CHANGES_A_MESSAGE = 200
_PENDING = f"""
WITH waiting AS (  -- the window over the light columns; payloads are read for the rows kept, when due
    SELECT id, channel, group_key, attempts, created_at,
        row_number() OVER (PARTITION BY channel, group_key ORDER BY id) AS nth,
        max(next_attempt_at) OVER (PARTITION BY channel, group_key) AS group_retry_at
    FROM notification_outbox WHERE delivered_at IS NULL
)
SELECT w.id, w.channel, w.group_key,
    CASE WHEN w.group_retry_at <= now() THEN o.payload END,  -- a group in backoff: only when it is due, not now
    w.attempts, w.created_at, w.group_retry_at, now(),
    (SELECT max(d.delivered_at) FROM notification_outbox d
     WHERE d.channel = w.channel AND d.group_key = w.group_key AND d.delivered_at IS NOT NULL) AS last_sent
FROM waiting w JOIN notification_outbox o ON o.id = w.id
WHERE w.nth <= {MAX_CHANGES_A_MESSAGE} AND (w.group_retry_at <= now() OR w.nth = 1)
ORDER BY w.id
"""
# Retries back off exponentially to this: a receiver down for hours is tried every few minutes, and one that takes
# a message but answers too late (so it counts as failed) does not get it again every few seconds.
MAX_BACKOFF = timedelta(minutes=5)
# A channel gone from the channels file: its rows wait (it may come back) without being tried every pass.
GONE_CHANNEL_RETRY = timedelta(hours=1)


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
    # retry_at is the group's (the latest next_attempt_at of its rows, _PENDING); rows come in id order, so the
    # first row's created_at is the oldest.
    for row_id, channel, group_key, payload, attempts, created, retry_at, now, last_sent in rows:
        group = groups.setdefault((channel, group_key), _Group(channel, now, created, retry_at, last_sent))
        group.ids.append(row_id)
        group.payloads.append(payload)
        group.attempts = max(group.attempts, attempts)
    return list(groups.values())


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.delivered = Counter(
            "qsmon_notifications_delivered_total", "Notifications a channel took", ["channel"], registry=registry
        )
        self.failed = Counter(
            "qsmon_notification_failures_total", "Delivery attempts that failed", ["channel"], registry=registry
        )


class Notifier:
    def __init__(
        self,
        dsn: str,
        channels: Mapping[str, Channel],
        registry: CollectorRegistry,
        render: Render,
        *,
        max_backoff: timedelta = MAX_BACKOFF,
        client: httpx.Client | None = None,
        muted: Muted | None = None,
        session_bound_s: float | None = None,
    ) -> None:
        self.dsn = dsn
        self.channels = dict(channels)
        self.render = render
        self.muted = muted
        self.max_backoff = max_backoff
        self.metrics = NotifierMetrics(registry)
        self.client = client or httpx.Client()
        self._sender = DeadlineSender(self.client)
        self.next_due_s: float | None = None  # seconds until the earliest waiting group may go out
        self._conn: psycopg.Connection | None = None
        self.session_bound_s = session_bound_s  # a notifier gone silent frees its lock after this (sessions)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.dsn, autocommit=True, application_name="qsmon-notifier")
            if self.session_bound_s is not None:
                bound_session(self._conn, self.session_bound_s)
        return self._conn

    def deliver_due(self) -> int:
        """One pass over the pending rows: every group that is due goes out; returns the messages delivered."""
        conn = self._connection()
        self.next_due_s = None
        # One notifier delivers at a time (several alert engines may run): rows split between two would break
        # groups apart. The other one finds the lock taken and waits for its next turn.
        if not conn.execute(_ONE_AT_A_TIME, _LOCK).fetchone()[0]:  # type: ignore[index]
            return 0
        try:
            return sum(self._deliver(conn, group) for group in _groups(conn.execute(_PENDING).fetchall()))
        finally:
            conn.execute(_DONE, _LOCK)

    def _deliver(self, conn: psycopg.Connection, group: _Group) -> bool:
        """Send one group if it is due, and record the outcome at once (the connection is in autocommit)."""
        channel = self.channels.get(group.channel)
        if group.retry_at > group.now:  # in backoff (its payloads were not even read)
            self._wake_in((group.retry_at - group.now).total_seconds())
            return False
        if channel is None:
            self._failed(
                conn, group, DeliveryError("channel no longer configured", channel=group.channel), GONE_CHANNEL_RETRY
            )
            return False
        wait = (group.due_at(channel) - group.now).total_seconds()
        if wait > 0:  # not yet: remember when, so the loop wakes then rather than at its next poll
            self._wake_in(wait)
            return False
        if self.muted is not None and self.muted(channel):
            self._wake_in(MUTED_RECHECK_S)
            return False
        try:
            message = self._render(channel, group)
            if message is not None:  # nothing left to say: every change folded into another message
                self._sender.send(channel, message, f"qsmon-{group.channel}-{group.ids[0]}-{len(group.ids)}")
        except DeliveryError as exc:
            self._failed(conn, group, exc, min(self.max_backoff, timedelta(seconds=2 ** min(group.attempts, 16))))
            return False
        conn.execute(
            "UPDATE notification_outbox SET attempts = attempts + 1, delivered_at = now(),"
            " last_error = NULL WHERE id = ANY(%s)",
            (group.ids,),
        )
        self.metrics.delivered.labels(group.channel).inc()
        return True

    def _wake_in(self, seconds: float) -> None:
        self.next_due_s = seconds if self.next_due_s is None else min(seconds, self.next_due_s)

    def _render(self, channel: Channel, group: _Group) -> Message | None:
        """The group's message; a payload it cannot render (written by another release, edited by hand) fails
        this group, not the notifier and every channel with it."""
        try:
            return self.render(channel, group.payloads)
        except Exception as exc:
            log.exception("cannot render the message of outbox rows %s", group.ids[:10])
            raise DeliveryError(
                "cannot render the message", channel=channel.name, error=f"{type(exc).__name__}: {exc}"[:300]
            ) from None

    def _failed(self, conn: psycopg.Connection, group: _Group, exc: DeliveryError, backoff: timedelta) -> None:
        conn.execute(
            "UPDATE notification_outbox SET attempts = attempts + 1, last_error = %s,"
            " next_attempt_at = now() + %s WHERE id = ANY(%s)",
            (str(exc)[:1000], backoff, group.ids),
        )
        self.metrics.failed.labels(group.channel).inc()
        log.warning(
            "message of %d changes via %s failed (attempt %d, next in %s): %s",
            len(group.ids),
            group.channel,
            group.attempts + 1,
            backoff,
            exc,
        )

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
