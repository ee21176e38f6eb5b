"""Versioned SQL migrations: each ``NNN_name.sql`` applied once, in order, in its own transaction.

An applied file must not change afterwards: its checksum is recorded and checked on every run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import psycopg

from qsmon.exceptions import MigrationError, SchemaVersionError
from qsmon.storage.locks import MIGRATIONS as _LOCK_KEY


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


def _refuse_newer(applied: dict[int, str], bundled: list[Migration]) -> None:
    """A database a newer qsmon migrated: this one must not write to it (nor `qsmon init` it)."""
    newer = sorted(set(applied) - {m.version for m in bundled})
    if newer:
        raise SchemaVersionError(
            "the database's schema is newer than this qsmon: upgrade qsmon",
            unknown_versions=newer,
            known_up_to=max(m.version for m in bundled),
        )


def pending_migrations(conn: psycopg.Connection) -> list[Migration]:
    """What this qsmon would apply; refuses a database a newer qsmon migrated (an older `qsmon init` would sync
    plans and topics into a schema it does not know, and report success)."""
    applied = _applied(conn)
    bundled = bundled_migrations()
    _refuse_newer(applied, bundled)
    pending = []
    for migration in bundled:
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
                if conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)).fetchone():
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


def check_schema(conn: psycopg.Connection) -> int:
    """Refuse a database whose schema this code does not know: older (migrations pending) or newer (applied
    migrations this release lacks), or edited. Returns the schema version. Run by the worker and the alert
    engine at start, so an upgrade out of order (docs/operations.md) stops them instead of corrupting data."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        conn.rollback()
        raise SchemaVersionError("the database has no qsmon schema: run `qsmon init`")
    applied: dict[int, str] = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
    conn.rollback()
    bundled = {m.version: m for m in bundled_migrations()}
    _refuse_newer(applied, list(bundled.values()))
    pending = sorted(set(bundled) - set(applied))
    if pending:
        raise SchemaVersionError(
            "the database's schema is older than this qsmon: stop the workers and run "
            "`qsmon init` (docs/operations.md, Upgrades)",
            pending_versions=pending,
        )
    edited = sorted(v for v, checksum in applied.items() if bundled[v].checksum != checksum)
    if edited:
        raise SchemaVersionError("applied migrations differ from this qsmon's", versions=edited)
    return max(bundled)
