"""API tokens with scopes (issue #18): created and revoked by `qsmon tokens`, stored hashed (migration 019).

A token is ``qsm_`` and 43 URL-safe characters (256 random bits), shown once when created. The database keeps its
SHA-256: with a secret that long a plain hash is enough, and a stolen table reveals no token. Lookups compare the
hash in constant time and are cached briefly, so a revoked token stops working within ``CACHE_SECONDS`` (while the
database answers; see ``GRACE_SECONDS`` for when it does not).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg

from qsmon.exceptions import QsmonError
from qsmon.provenance import Authority, Sender, WriteScope

PREFIX = "qsm_"
TOKEN_SHAPE = re.compile(r"qsm_[A-Za-z0-9_-]{43}")
CACHE_SECONDS = 30.0
MAX_CACHED = 10_000
# While the database cannot be asked (down, or cut off from the service), a token it confirmed this recently keeps
# working: a lab system in daily use is not shut out by the outage. A token cannot be revoked while the database is
# away anyway; one revoked just before stops when the database answers again, or after this long at most.
GRACE_SECONDS = 600.0
UNLIMITED = WriteScope()  # tokens made before issue #31, and tokens that read only


class Scope(StrEnum):
    INGEST = "ingest"  # POST results and case steps; reads nothing
    READ = "read"  # every GET: figures, alerts, failures with firm detail, cases
    PUBLIC = "public"  # aggregates (plans, evaluations, rates) and published failures only
    ADMIN = "admin"  # everything
    ACK = "ack"  # acknowledge alerts (POST /v1/alerts/{id}/ack); reads nothing


# What each scope may do, besides itself: admin implies all; read implies public.
IMPLIED: dict[Scope, frozenset[Scope]] = {
    Scope.ADMIN: frozenset(Scope),
    Scope.READ: frozenset({Scope.READ, Scope.PUBLIC}),
    Scope.PUBLIC: frozenset({Scope.PUBLIC}),
    Scope.INGEST: frozenset({Scope.INGEST}),
    Scope.ACK: frozenset({Scope.ACK}),
}


class TokenNotFoundError(QsmonError):
    """No such token."""


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    name: str
    scopes: frozenset[Scope]
    rate_per_minute: int
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    # What it may write and read (issue #31; None: no limit): qsmon.provenance.write_refusal.
    write_scope: WriteScope = UNLIMITED
    records_per_minute: int | None = None  # ingest quota (None: QSMON_INGEST_RECORDS_PER_MINUTE)

    def allows(self, scope: Scope) -> bool:
        return any(scope in IMPLIED[s] for s in self.scopes)

    @property
    def sender(self) -> Sender:
        """The sender its records carry: ``token:<id>``, with an admin's authority or a lab's, for its lab."""
        lab = self.write_scope.lab
        return Sender(
            f"token:{self.id}",
            Authority.ADMIN if Scope.ADMIN in self.scopes else Authority.LAB,
            f"lab:{lab}" if lab else None,
        )


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create_token(
    conn: psycopg.Connection,
    name: str,
    scopes: set[Scope],
    rate_per_minute: int = 600,
    write_scope: WriteScope = UNLIMITED,
    records_per_minute: int | None = None,
) -> tuple[Token, str]:
    """A new token and its secret (shown once; only its hash is stored)."""
    secret = PREFIX + secrets.token_urlsafe(32)
    w = write_scope
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO api_tokens (name, token_hash, scopes, rate_per_minute, lab, source, regions,"
            " categories, records_per_minute) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " RETURNING id, created_at",
            (
                name,
                digest(secret),
                sorted(s.value for s in scopes),
                rate_per_minute,
                w.lab,
                w.source,
                list(w.regions) if w.regions is not None else None,
                list(w.categories) if w.categories is not None else None,
                records_per_minute,
            ),
        ).fetchone()
    assert row is not None  # noqa: S101 - INSERT … RETURNING returns the row
    return Token(
        int(row[0]),
        name,
        frozenset(scopes),
        rate_per_minute,
        row[1],
        write_scope=write_scope,
        records_per_minute=records_per_minute,
    ), secret


def revoke_token(conn: psycopg.Connection, token_id: int) -> None:
    with conn.transaction():
        row = conn.execute(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s RETURNING id", (token_id,)
        ).fetchone()
    if row is None:
        raise TokenNotFoundError("no such token", id=token_id)


_COLUMNS = (
    "id, name, scopes, rate_per_minute, created_at, revoked_at, lab, source, regions, categories, records_per_minute"
)


def _token(row: tuple[Any, ...]) -> Token:
    i, name, scopes, rate, created, revoked, lab, source, regions, categories, records = row[:11]
    return Token(
        int(i),
        name,
        frozenset(Scope(s) for s in scopes),
        int(rate),
        created,
        revoked,
        WriteScope(
            lab,
            source,
            tuple(regions) if regions is not None else None,
            tuple(categories) if categories is not None else None,
        ),
        records,
    )


def list_tokens(conn: psycopg.Connection) -> list[Token]:
    return [_token(row) for row in conn.execute(f"SELECT {_COLUMNS} FROM api_tokens ORDER BY id")]


def _offered(header: str | None) -> str | None:
    """The token a ``Bearer`` header carries, when it has the shape of ours (else no lookup, no cache entry)."""
    if not header or not header.startswith("Bearer "):
        return None
    offered = header.removeprefix("Bearer ").strip()
    return offered if TOKEN_SHAPE.fullmatch(offered) else None


class TokenVerifier:
    """Bearer tokens to their records, cached for ``CACHE_SECONDS``. ``connect`` opens a connection for a token not
    seen before; ``reconfirm`` (default ``connect``) for one the database confirmed before, so a service can keep
    those lookups apart from strangers' guesses. Confirmed tokens and refused guesses are kept apart too: guesses,
    however many, never push a token in use out of the cache."""

    def __init__(
        self,
        connect: Callable[[], AbstractContextManager[psycopg.Connection]],
        reconfirm: Callable[[], AbstractContextManager[psycopg.Connection]] | None = None,
    ) -> None:
        self._connect = connect
        self._reconfirm = reconfirm or connect
        self._lock = threading.Lock()  # lookups run in several threads
        self._confirmed: dict[bytes, tuple[float, Token]] = {}  # one entry per real, unrevoked token
        self._refused: OrderedDict[bytes, float] = OrderedDict()  # least recently seen dropped first

    def cached(self, header: str | None) -> tuple[bool, Token | None]:
        """(known, token) from the cache alone: no database. ``known`` False means ask :meth:`verify`."""
        offered = _offered(header)
        if offered is None:
            return True, None
        hashed, now = digest(offered), time.monotonic()
        with self._lock:
            confirmed = self._confirmed.get(hashed)
            if confirmed is not None and now - confirmed[0] < CACHE_SECONDS:
                return True, confirmed[1]
            refused_at = self._refused.get(hashed)
            if refused_at is not None and now - refused_at < CACHE_SECONDS:
                self._refused.move_to_end(hashed)
                return True, None
        return False, None

    def confirmed_before(self, header: str | None) -> bool:
        """The database confirmed this token before (its answer may be stale): a re-check, not a guess."""
        offered = _offered(header)
        with self._lock:
            return offered is not None and digest(offered) in self._confirmed

    def confirmed_lately(self, header: str | None) -> Token | None:
        """The token the database confirmed within ``GRACE_SECONDS``, for when it cannot be asked now."""
        offered = _offered(header)
        if offered is None:
            return None
        with self._lock:
            confirmed = self._confirmed.get(digest(offered))
        return confirmed[1] if confirmed and time.monotonic() - confirmed[0] < GRACE_SECONDS else None

    def verify(self, header: str | None) -> Token | None:
        known, token = self.cached(header)
        offered = _offered(header)
        if known or offered is None:
            return token
        hashed = digest(offered)
        with self._lock:
            connect = self._reconfirm if hashed in self._confirmed else self._connect
        token = self._lookup(hashed, connect)
        now = time.monotonic()
        with self._lock:
            if token is None:  # never issued, or revoked since
                self._confirmed.pop(hashed, None)
                self._refused[hashed] = now
                self._refused.move_to_end(hashed)
                if len(self._refused) > MAX_CACHED:
                    self._refused.popitem(last=False)
            else:
                self._confirmed[hashed] = (now, token)
                self._refused.pop(hashed, None)
        return token

    @staticmethod
    def _lookup(hashed: bytes, connect: Callable[[], AbstractContextManager[psycopg.Connection]]) -> Token | None:
        with connect() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS}, token_hash FROM api_tokens WHERE token_hash = %s AND revoked_at IS NULL", (hashed,)
            ).fetchone()
        if row is None or not hmac.compare_digest(bytes(row[11]), hashed):
            return None
        return _token(row)
