"""Storing what was pulled from an instance: its months replace what an earlier pull stored for them, in one
transaction, so a pull is idempotent and a re-closed month (re-reported upstream) leaves no stale figure."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

_FIGURE_COLUMNS = (
    "instance",
    "month",
    "plan_id",
    "indicator_id",
    "indicator_name",
    "measure",
    "region_code",
    "jurisdiction",
    "samples",
    "failed",
    "value",
    "current_samples",
    "current_failed",
    "current_value",
    "closed_at",
)


def _figure_row(instance: str, f: dict[str, Any]) -> tuple[Any, ...]:
    current = f.get("current") or {}
    return (
        instance,
        date.fromisoformat(f"{f['month']}-01"),
        f["plan_id"],
        f["indicator_id"],
        f["indicator_name"],
        f["measure"],
        f["region_code"],
        bool(f["jurisdiction"]),
        int(f["samples"]),
        int(f["failed"]),
        f["value"],
        current.get("samples"),
        current.get("failed"),
        current.get("value"),
        f["closed_at"],
    )


def store_pull(
    conn: psycopg.Connection, instance: str, figures: list[dict[str, Any]], failures: dict[date, list[dict[str, Any]]]
) -> None:
    months = sorted({date.fromisoformat(f"{f['month']}-01") for f in figures} | set(failures))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("DELETE FROM federated_figures WHERE instance = %s AND month = ANY(%s)", (instance, months))
        cur.execute("DELETE FROM federated_failures WHERE instance = %s AND month = ANY(%s)", (instance, months))
        cur.executemany(
            f"INSERT INTO federated_figures ({', '.join(_FIGURE_COLUMNS)})"
            f" VALUES ({', '.join(['%s'] * len(_FIGURE_COLUMNS))})",
            [_figure_row(instance, f) for f in figures],
        )
        cur.executemany(
            "INSERT INTO federated_failures (instance, month, nth, row) VALUES (%s, %s, %s, %s)",
            [(instance, month, nth, Jsonb(row)) for month, rows in failures.items() for nth, row in enumerate(rows, 1)],
        )
