"""One alert engine leads at a time: the one whose database connection holds the engine's session advisory lock.

The lock lives on the connection the engine works through, so whatever the leader writes it writes while holding
it; when that connection is lost the lock goes with it, and a standby takes over within its polling interval.
"""

from __future__ import annotations

import psycopg

from qsmon.storage.locks import ALERT_ENGINE, SCOPED_OBJID


class Leadership:
    def __init__(self, name: str) -> None:
        self.name = name  # the alert group: engines of one group share one leader
        self._holder: psycopg.Connection | None = None

    @property
    def leading(self) -> bool:
        conn = self._holder
        return conn is not None and not conn.closed and not conn.broken

    def lead(self, conn: psycopg.Connection) -> bool:
        """Whether this engine leads through ``conn``: kept while the connection lives, else tried for."""
        if self.leading and self._holder is conn:
            return True
        row = conn.execute(f"SELECT pg_try_advisory_lock(%(class)s, {SCOPED_OBJID})",
                           {"class": ALERT_ENGINE, "name": self.name}).fetchone()
        conn.commit()
        self._holder = conn if row and row[0] else None
        return self._holder is conn
