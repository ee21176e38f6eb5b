"""Pulling one instance: its closed months (``GET /v1/months``) and, for each, its published failures
(``GET /v1/failures``, every page), then storing both in one transaction (federation.store)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import psycopg

from federation.config import Instance
from federation.exceptions import FederationError
from federation.store import store_pull
from indicators.windows import month_range

log = logging.getLogger("qsmon.federation")
PAGE = 1000


@dataclass(frozen=True, slots=True)
class Pulled:
    instance: str
    months: int
    figures: int
    failures: int


def _get(client: httpx.Client, instance: Instance, path: str, params: dict[str, Any]) -> Any:
    try:
        answer = client.get(
            f"{instance.url.rstrip('/')}{path}",
            params=params,
            headers={"Authorization": f"Bearer {instance.token()}"},
            timeout=instance.timeout_s,
        )
    except httpx.HTTPError as exc:
        raise FederationError(
            "the instance cannot be reached", instance=instance.name, path=path, error=str(exc)[:300]
        ) from exc
    if answer.status_code != 200:
        raise FederationError(
            "the instance refused the request",
            instance=instance.name,
            path=path,
            status=answer.status_code,
            detail=answer.text[:300],
        )
    try:
        return answer.json()
    except ValueError as exc:
        raise FederationError("the instance did not answer JSON", instance=instance.name, path=path) from exc


def _failures(client: httpx.Client, instance: Instance, month: date) -> list[dict[str, Any]]:
    days = month_range(month.year, month.month)
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"from": days.first.isoformat(), "to": days.last.isoformat(), "limit": PAGE}
        if cursor:
            params["cursor"] = cursor
        page = _get(client, instance, "/v1/failures", params)
        rows.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return rows


def pull_instance(
    conn: psycopg.Connection, instance: Instance, *, since: date | None = None, client: httpx.Client | None = None
) -> Pulled:
    """Read the instance's closed months from ``since`` (default: its API's, a year back) and store them."""
    own = client is None
    client = client or httpx.Client()
    try:
        figures = _get(client, instance, "/v1/months", {"since": since.isoformat()} if since else {})["items"]
        months = sorted({date.fromisoformat(f"{f['month']}-01") for f in figures})
        failures = {month: _failures(client, instance, month) for month in months}
    finally:
        if own:
            client.close()
    store_pull(conn, instance.name, figures, failures)
    pulled = Pulled(instance.name, len(months), len(figures), sum(len(rows) for rows in failures.values()))
    log.info("pulled %s", pulled)
    return pulled
