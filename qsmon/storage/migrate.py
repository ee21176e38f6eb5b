"""Versioned SQL migrations: each ``NNN_name.sql`` applied once, in order, in its own transaction.

An applied file must not change afterwards: its checksum is recorded and checked on every run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import psycopg

from qsmon.exceptions import MigrationError

# Serialises concurrent `qsmon init` runs (e.g. several containers starting at once).
_LOCK_KEY = 0x51_53_4D_4F_4E  # "QSMON"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def bundled_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("qsmon.storage.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number", versions=versions)
    return found


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


def _applied(conn: psycopg.Connection) -> dict[int, str]:
    conn.execute(_CREATE_TABLE)
    return dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())


def pending_migrations(conn: psycopg.Connection) -> list[Migration]:
    applied = _applied(conn)
    pending = []
    for migration in bundled_migrations():
        recorded = applied.get(migration.version)
        if recorded is None:
            pending.append(migration)
        elif recorded != migration.checksum:
            raise MigrationError(
                "an applied migration was edited; add a new migration instead",
                version=migration.version,
                name=migration.name,
            )
    return pending


def apply_migrations(conn: psycopg.Connection) -> list[Migration]:
    """Apply what is pending; returns the migrations applied now (empty when up to date)."""
    applied_now: list[Migration] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        pending = pending_migrations(conn)
    for migration in pending:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                if conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
                ).fetchone():
                    continue  # another process applied it while we waited for the lock
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
        except psycopg.Error as exc:
            raise MigrationError(
                "migration failed and was rolled back",
                version=migration.version,
                name=migration.name,
                error=str(exc).strip(),
            ) from exc
        applied_now.append(migration)
    return applied_now
