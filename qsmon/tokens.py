"""API tokens with scopes (issue #18): created and revoked by `qsmon tokens`, stored hashed (migration 019).

A token is ``qsm_`` and 43 URL-safe characters (256 random bits), shown once when created. The database keeps its
SHA-256: with a secret that long a plain hash is enough, and a stolen table reveals no token. Lookups compare the
hash in constant time and are cached briefly, so a revoked token stops working within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import psycopg

from qsmon.exceptions import QsmonError

PREFIX = "qsm_"
TOKEN_SHAPE = re.compile(r"qsm_[A-Za-z0-9_-]{43}")
CACHE_SECONDS = 30.0
MAX_CACHED = 10_000
# While the database cannot be asked (down, or its lookup connections busy with a flood of guesses), a token it
# confirmed this recently keeps working: a lab system in daily use is not shut out by someone else's flood. A token
# revoked meanwhile stops once the database answers again, or after this long at most.
GRACE_SECONDS = 600.0


class Scope(StrEnum):
    INGEST = "ingest"  # POST results and case steps; reads nothing
    READ = "read"  # every GET: figures, alerts, failures with firm detail, cases
    PUBLIC = "public"  # aggregates (plans, evaluations, rates) and published failures only
    ADMIN = "admin"  # everything


# What each scope may do, besides itself: admin implies all; read implies public.
IMPLIED: dict[Scope, frozenset[Scope]] = {
    Scope.ADMIN: frozenset(Scope),
    Scope.READ: frozenset({Scope.READ, Scope.PUBLIC}),
    Scope.PUBLIC: frozenset({Scope.PUBLIC}),
    Scope.INGEST: frozenset({Scope.INGEST}),
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

    def allows(self, scope: Scope) -> bool:
        return any(scope in IMPLIED[s] for s in self.scopes)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create_token(conn: psycopg.Connection, name: str, scopes: set[Scope], rate_per_minute: int = 600
                 ) -> tuple[Token, str]:
    """A new token and its secret (shown once; only its hash is stored)."""
    secret = PREFIX + secrets.token_urlsafe(32)
    with conn.transaction():
        row = conn.execute("INSERT INTO api_tokens (name, token_hash, scopes, rate_per_minute) VALUES (%s, %s, %s, %s)"
                           " RETURNING id, created_at", (name, digest(secret), sorted(s.value for s in scopes),
                                                         rate_per_minute)).fetchone()
    assert row is not None  # noqa: S101 - INSERT … RETURNING returns the row
    return Token(int(row[0]), name, frozenset(scopes), rate_per_minute, row[1]), secret


def revoke_token(conn: psycopg.Connection, token_id: int) -> None:
    with conn.transaction():
        row = conn.execute("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s"
                           " RETURNING id", (token_id,)).fetchone()
    if row is None:
        raise TokenNotFoundError("no such token", id=token_id)


def list_tokens(conn: psycopg.Connection) -> list[Token]:
    return [Token(int(i), name, frozenset(Scope(s) for s in scopes), int(rate), created, revoked)
            for i, name, scopes, rate, created, revoked in conn.execute(
                "SELECT id, name, scopes, rate_per_minute, created_at, revoked_at FROM api_tokens ORDER BY id")]


def _offered(header: str | None) -> str | None:
    """The token a ``Bearer`` header carries, when it has the shape of ours (else no lookup, no cache entry)."""
    if not header or not header.startswith("Bearer "):
        return None
    offered = header.removeprefix("Bearer ").strip()
    return offered if TOKEN_SHAPE.fullmatch(offered) else None


class TokenVerifier:
    """Bearer tokens to their records, cached for ``CACHE_SECONDS``; ``connect`` opens a connection when needed."""

    def __init__(self, connect: Callable[[], AbstractContextManager[psycopg.Connection]]) -> None:
        self._connect = connect
        self._cache: OrderedDict[bytes, tuple[float, Token | None]] = OrderedDict()

    def cached(self, header: str | None, max_age: float = CACHE_SECONDS) -> tuple[bool, Token | None]:
        """(known, token) from the cache alone: no database. ``known`` False means ask :meth:`verify`."""
        offered = _offered(header)
        if offered is None:
            return True, None
        hit = self._cache.get(digest(offered))
        if hit is not None and time.monotonic() - hit[0] < max_age:
            return True, hit[1]
        return False, None

    def confirmed_lately(self, header: str | None) -> Token | None:
        """The token the database confirmed within ``GRACE_SECONDS``, for when it cannot be asked now."""
        known, token = self.cached(header, max_age=GRACE_SECONDS)
        return token if known else None

    def verify(self, header: str | None) -> Token | None:
        offered = _offered(header)
        if offered is None:
            return None
        hashed = digest(offered)
        cached = self._cache.get(hashed)
        now = time.monotonic()
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            self._cache.move_to_end(hashed)
            return cached[1]
        token = self._lookup(hashed)
        self._cache[hashed] = (now, token)
        if len(self._cache) > MAX_CACHED:  # least recently used first: guesses never evict tokens in use
            self._cache.popitem(last=False)
        return token

    def _lookup(self, hashed: bytes) -> Token | None:
        with self._connect() as conn:
            row = conn.execute("SELECT id, name, scopes, rate_per_minute, token_hash FROM api_tokens"
                               " WHERE token_hash = %s AND revoked_at IS NULL", (hashed,)).fetchone()
        if row is None or not hmac.compare_digest(bytes(row[4]), hashed):
            return None
        return Token(int(row[0]), row[1], frozenset(Scope(s) for s in row[2]), int(row[3]))
