"""Deleting what is no longer needed, by the retention settings (docs/operations.md, Retention).

* result history (``inspection_results``): whole chunks older than ``retention_history_days`` are dropped
  (TimescaleDB's drop_chunks: no row-by-row delete, no bloat), and the cut is kept in ``history_cut``. Current
  verdicts, rollups and failure tables stay, so dashboards and reports keep every month; only a rollup rebuild
  cannot reach back past the cut (:func:`earliest_rebuild_day`).
* the notification outbox: delivered rows older than ``retention_outbox_days``.
* alert events: those of alerts resolved more than ``retention_alert_events_days`` ago (with their outbox rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from qsmon.settings import Settings

_DROP_HISTORY = "SELECT count(*) FROM drop_chunks('inspection_results', older_than => now() - %(age)s::interval)"
_KEEP_CUT = """
INSERT INTO history_cut (cut) VALUES (now() - %(age)s::interval)
ON CONFLICT (only_row) DO UPDATE SET cut = greatest(history_cut.cut, excluded.cut)
"""
_DELETE_OUTBOX = "DELETE FROM notification_outbox WHERE delivered_at < now() - %s::interval"
_OLD_EVENTS = """
WITH old AS (
    SELECT e.id FROM alert_events e JOIN alerts a ON a.id = e.alert_id
    WHERE a.status = 'resolved' AND a.resolved_at < now() - %(age)s::interval
), outbox AS (
    DELETE FROM notification_outbox o USING old WHERE o.event_id = old.id RETURNING 1
)
DELETE FROM alert_events e USING old WHERE e.id = old.id
"""


@dataclass(frozen=True, slots=True)
class RetentionOutcome:
    history_chunks_dropped: int = 0
    outbox_rows_deleted: int = 0
    alert_events_deleted: int = 0


def apply_retention(conn: psycopg.Connection, settings: Settings) -> RetentionOutcome:
    """One pass, one transaction per kind; safe to run while the worker and the alert engine work."""
    chunks = outbox = events = 0
    if settings.retention_history_days is not None:
        age = {"age": timedelta(days=settings.retention_history_days)}
        with conn.transaction():
            row = conn.execute(_DROP_HISTORY, age).fetchone()
            chunks = int(row[0]) if row else 0
            if chunks:
                conn.execute(_KEEP_CUT, age)
    with conn.transaction():
        outbox = conn.execute(_DELETE_OUTBOX, (timedelta(days=settings.retention_outbox_days),)).rowcount
    if settings.retention_alert_events_days is not None:
        with conn.transaction():
            events = conn.execute(_OLD_EVENTS, {"age": timedelta(days=settings.retention_alert_events_days)}).rowcount
    return RetentionOutcome(chunks, max(outbox, 0), max(events, 0))


def earliest_rebuild_day(conn: psycopg.Connection, settings: Settings, today: date) -> date:
    """The first day a rollup rebuild can recompute exactly: yearly tables are rebuilt whole, so the first
    January after the history cut (the history before it is gone). The cut is the later of the one retention
    recorded when it dropped history and the one the settings would make; ``date.min`` when neither exists."""
    row = conn.execute("SELECT (cut AT TIME ZONE %s)::date FROM history_cut", (settings.timezone,)).fetchone()
    cuts = [row[0]] if row else []
    if settings.retention_history_days is not None:
        cuts.append(today - timedelta(days=settings.retention_history_days))
    if not cuts:
        return date.min
    return date(max(cuts).year + 1, 1, 1)
