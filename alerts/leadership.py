"""One alert engine leads at a time: the one whose database connection holds the engine's session advisory lock.

The lock lives on the connection the engine works through, so whatever the leader writes it writes while holding
it: the session is the fencing token, and a leader whose session ended can write nothing more.

Takeover is bounded: the session is bounded (qsmon.storage.sessions), so a leader that goes silent (its process
frozen, its network cut without a reset) loses its session, and the lock with it, ``lease_s`` after its last
word; the leader speaks at least every third of that. A standby tries for the lock every ``retry_s``, so it
leads at most ``lease_s + retry_s`` after the leader went silent (docs/architecture.md, "Leadership").
"""

from __future__ import annotations

import time

import psycopg
from psycopg.pq import TransactionStatus

from qsmon.storage.locks import ALERT_ENGINE, SCOPED_OBJID
from qsmon.storage.sessions import bound_session

DEFAULT_LEASE_S = 10.0


class Leadership:
    def __init__(self, name: str, lease_s: float = DEFAULT_LEASE_S) -> None:
        self.name = name  # the alert group: engines of one group share one leader
        self.lease_s = lease_s
        self._holder: psycopg.Connection | None = None
        self._bounded: psycopg.Connection | None = None
        self._renewed_at = 0.0  # monotonic: the leader's last word to the server

    @property
    def retry_s(self) -> float:
        """How often a standby tries to lead: within the lease, so its own bounded session stays open."""
        return min(5.0, self.lease_s / 2)

    @property
    def leading(self) -> bool:
        conn = self._holder
        return conn is not None and not conn.closed and not conn.broken

    def lead(self, conn: psycopg.Connection) -> bool:
        """Whether this engine leads through ``conn``: kept while the connection lives, else tried for.

        Call it at least every third of the lease: a leader renews its session here (a lost session raises
        the driver's error, and leading is then False)."""
        if self.leading and self._holder is conn:
            if time.monotonic() - self._renewed_at >= self.lease_s / 3:
                self._renew(conn)
            return True
        if self._bounded is not conn:
            bound_session(conn, self.lease_s)
            self._bounded = conn
        row = conn.execute(
            f"SELECT pg_try_advisory_lock(%(class)s, {SCOPED_OBJID})", {"class": ALERT_ENGINE, "name": self.name}
        ).fetchone()
        conn.commit()
        self._renewed_at = time.monotonic()
        self._holder = conn if row and row[0] else None
        return self._holder is conn

    def _renew(self, conn: psycopg.Connection) -> None:
        idle = conn.info.transaction_status == TransactionStatus.IDLE
        conn.execute("SELECT 1")
        if idle:  # not the engine's open transaction: only ours, which holds nothing
            conn.commit()
        self._renewed_at = time.monotonic()
