"""Whether a live silence mutes a notification: one rule for rate alerts and case notices alike."""

from __future__ import annotations

from datetime import datetime

import psycopg


def silenced(conn: psycopg.Connection, *, plan_id: str, indicator_id: str | None, region_code: str,
             window: str | None, severity: str, now: datetime) -> bool:
    """A live silence matches every label it names (NULL: any). region_pattern() is qsmon.regions.like_pattern's
    SQL twin: a city's silence covers exactly its counties."""
    row = conn.execute(
        "SELECT 1 FROM silences WHERE until > %s AND expired_at IS NULL AND (plan_id IS NULL OR plan_id = %s)"
        " AND (indicator_id IS NULL OR indicator_id = %s)"
        " AND (region_code IS NULL OR %s LIKE region_pattern(region_code))"
        " AND (window_name IS NULL OR window_name = %s) AND (severity IS NULL OR severity = %s) LIMIT 1",
        (now, plan_id, indicator_id, region_code, window, severity)).fetchone()
    return row is not None
