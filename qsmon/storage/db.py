"""Connections to TimescaleDB."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from qsmon.exceptions import ConfigError, StorageError
from qsmon.settings import INVALID_DATABASE_URL


def with_session_options(dsn: str, application_name: str) -> str:
    """Add UTC sessions to the DSN, keeping options it already has (tests pin ``search_path`` there)."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:  # the driver's message quotes the URL, password included
        raise ConfigError(f"QSMON_DATABASE_URL is {INVALID_DATABASE_URL}") from None
    options = str(params.get("options") or "")
    if "timezone" not in options:
        options = f"{options} -c timezone=UTC".strip()
    params.setdefault("application_name", application_name)
    params.setdefault("connect_timeout", 10)
    return make_conninfo("", **{**params, "options": options})


def connect(
    dsn: str, *, autocommit: bool = False, application_name: str = "qsmon", connect_timeout_s: int | None = None
) -> psycopg.Connection:
    """Open a connection whose session runs in UTC, so timestamps never pick up a server default."""
    conninfo = with_session_options(dsn, application_name)
    if connect_timeout_s is not None:
        conninfo = make_conninfo(conninfo, connect_timeout=connect_timeout_s)
    try:
        return psycopg.connect(conninfo, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        raise StorageError("cannot connect to the database", error=str(exc).strip()) from exc
