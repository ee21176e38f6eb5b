"""What a caller of the ingest API may send (issue #31), checked before anything reaches Kafka: the token's lab,
source, regions and categories, and the revision rule against the samples as stored. The rules are
qsmon.provenance's; the worker applies the revision rule again when it stores (two requests racing each other,
records sent before the check could see their predecessors). When the database cannot be asked the API goes on
without the lookup, as it goes on without the database for tokens it confirmed lately: lab systems keep sending
through an outage, and the worker dead-letters what breaks the rule."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from qsmon.auth import Caller
from qsmon.provenance import Stored, needs_lookup, refusals, write_refusal
from qsmon.schema import InspectionResult
from qsmon.settings import Settings

log = logging.getLogger("qsmon.ingest")

# Lookups are one indexed query per request; two connections serve the parsing threads (at most two at once).
SAMPLE_CONNECTIONS = 2
LOOKUP_WAIT_S = 1.0  # within the 5 s a request is answered in, Kafka's acknowledgement included
UNCHECKED_LOG_EVERY_S = 60.0


class SampleLookup:
    """The stored revision and creator of samples, on connections of the ingest service's own."""

    def __init__(self, settings: Settings) -> None:
        from psycopg.conninfo import make_conninfo

        from qsmon.storage.db import with_session_options

        conninfo = make_conninfo(with_session_options(settings.dsn, "qsmon-ingest-samples"), connect_timeout=3)
        self._pool = ConnectionPool(
            conninfo,
            min_size=0,
            max_size=SAMPLE_CONNECTIONS,
            timeout=LOOKUP_WAIT_S,
            max_idle=60,
            reconnect_timeout=5.0,
            open=False,
            name="qsmon-ingest-samples",
        )
        self._unchecked_logged_at = -UNCHECKED_LOG_EVERY_S

    def stored(self, sample_ids: Sequence[str]) -> dict[str, Stored] | None:
        """The samples as stored; None when the database cannot be asked now (logged once a minute)."""
        try:
            if self._pool.closed:
                self._pool.open(wait=False)
            with self._pool.connection() as conn:
                rows = conn.execute(
                    "SELECT sample_id, revision, created_by FROM sample_current WHERE sample_id = ANY(%s)",
                    (list(sample_ids),),
                ).fetchall()
        except (psycopg.Error, PoolTimeout) as exc:
            now = time.monotonic()
            if now - self._unchecked_logged_at >= UNCHECKED_LOG_EVERY_S:
                self._unchecked_logged_at = now
                log.warning(
                    "stored samples could not be looked up (%s): revisions are checked by the worker only",
                    type(exc).__name__,
                )
            return None
        return {sample_id: Stored(int(revision), created_by) for sample_id, revision, created_by in rows}

    def close(self) -> None:
        self._pool.close()


def refused_records(
    caller: Caller, results: Sequence[InspectionResult], lookup: SampleLookup
) -> list[tuple[int, str, str]]:
    """(index, sample_id, reason) of each record ``caller`` may not send: outside its scope, or breaking the
    revision rule against what is stored (and the request's own earlier lines)."""
    refused = [
        (i, r.sample_id, reason)
        for i, r in enumerate(results)
        if (reason := write_refusal(caller.write_scope, r)) is not None
    ]
    if refused or not needs_lookup(caller.sender):
        return refused
    stored = lookup.stored(sorted({r.sample_id for r in results}))
    if stored is None:
        return []
    by_rule = refusals(stored, [(r.sample_id, r.revision, caller.sender) for r in results])
    return [(i, results[i].sample_id, reason) for i, reason in sorted(by_rule.items())]
