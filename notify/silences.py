"""Whether a live silence mutes a notification: one rule for rate alerts and case notices alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

_MATCHING = (
    "SELECT id, announce_recoveries FROM silences WHERE until > %s AND expired_at IS NULL"
    " AND (plan_id IS NULL OR plan_id = %s) AND (indicator_id IS NULL OR indicator_id = %s)"
    " AND (region_code IS NULL OR %s LIKE region_pattern(region_code))"
    " AND (window_name IS NULL OR window_name = %s) AND (severity IS NULL OR severity = %s)"
    " ORDER BY announce_recoveries DESC, until DESC, id"
)


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    announce_recoveries: bool  # a recovery it hid is announced when it ends (notify.held)

    @property
    def holder(self) -> str:
        return f"silence:{self.id}"


def live_silence(
    conn: psycopg.Connection,
    *,
    plan_id: str,
    indicator_id: str | None,
    region_code: str,
    window: str | None,
    severity: str,
    now: datetime,
) -> Silence | None:
    """A live silence that matches every label it names (NULL: any), preferring one that announces recoveries.
    region_pattern() is qsmon.regions.like_pattern's SQL twin: a city's silence covers exactly its counties."""
    row = conn.execute(_MATCHING + " LIMIT 1", (now, plan_id, indicator_id, region_code, window, severity)).fetchone()
    return None if row is None else Silence(int(row[0]), bool(row[1]))


def silenced(
    conn: psycopg.Connection,
    *,
    plan_id: str,
    indicator_id: str | None,
    region_code: str,
    window: str | None,
    severity: str,
    now: datetime,
) -> bool:
    return (
        live_silence(
            conn,
            plan_id=plan_id,
            indicator_id=indicator_id,
            region_code=region_code,
            window=window,
            severity=severity,
            now=now,
        )
        is not None
    )


def silence_live(conn: psycopg.Connection, silence_id: int, now: datetime) -> bool:
    row = conn.execute(
        "SELECT 1 FROM silences WHERE id = %s AND until > %s AND expired_at IS NULL", (silence_id, now)
    ).fetchone()
    return row is not None
