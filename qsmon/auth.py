"""Bearer tokens of the HTTP services: the configured ingest tokens (QSMON_INGEST_TOKENS) and the scoped tokens of
`qsmon tokens` (qsmon.tokens), which the ingest API and the case endpoints take when they carry the ingest scope."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from contextlib import AbstractContextManager
from enum import Enum

import anyio
import psycopg

from qsmon.exceptions import StorageError
from qsmon.settings import Settings
from qsmon.tokens import Scope, Token, TokenVerifier

log = logging.getLogger("qsmon.auth")


def bearer_authorised(header: str | None, tokens: list[bytes]) -> bool:
    """The Authorization header carries one of ``tokens``. Every token is compared, in constant time: the time
    taken says nothing about which one matched, or how much of one."""
    if not header or not header.startswith("Bearer ") or not tokens:
        return False
    offered = header.removeprefix("Bearer ").strip().encode()
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(offered, token)
    return matched


# Unknown tokens are whatever clients send, and each costs a lookup. Looked up on a connection of its own, every
# guess made PostgreSQL start a backend and run a SCRAM exchange, and a flood of them could take every connection
# the database allows. Lookups share this many connections; this many more wait for one (LOOKUP_WAIT_S at most);
# beyond that a lookup is refused at once, without the database.
LOOKUP_CONNECTIONS = 2
LOOKUP_QUEUE = 16
LOOKUP_WAIT_S = 3.0
# A database that went away is tried again this soon after it returns (the pool's default backs off for minutes).
RECONNECT_WITHIN_S = 5.0
# Lookups that could not be made are logged once a while, counted: a flood of guesses would otherwise write a line
# each.
UNCHECKED_LOG_EVERY_S = 60.0


class Access(Enum):
    GRANTED = "granted"
    REFUSED = "refused"  # no such token, or not one allowing ingest: 401
    UNCHECKED = "unchecked"  # the database could not be asked in time: 503, try again


class IngestAuthoriser:
    """A configured ingest token, or a scoped token allowing ``ingest``. A database that cannot be asked leaves
    scoped tokens unchecked (unless it confirmed them lately: tokens.GRACE_SECONDS); configured tokens keep working
    through an outage."""

    def __init__(self, settings: Settings) -> None:
        from psycopg.conninfo import make_conninfo
        from psycopg_pool import ConnectionPool

        from qsmon.storage.db import with_session_options

        self._tokens = [t.get_secret_value().encode() for t in settings.ingest_tokens]
        conninfo = make_conninfo(with_session_options(settings.dsn, "qsmon-auth"), connect_timeout=3)
        # Opened at the first lookup, in a request's thread; idle connections are closed again after a minute.
        self._pool = ConnectionPool(conninfo, min_size=0, max_size=LOOKUP_CONNECTIONS, max_waiting=LOOKUP_QUEUE,
                                    timeout=LOOKUP_WAIT_S, max_idle=60, reconnect_timeout=RECONNECT_WITHIN_S,
                                    check=ConnectionPool.check_connection, open=False, name="qsmon-auth")
        self._state = threading.Lock()
        self._closed = False
        self._unchecked = 0
        self._unchecked_logged_at = -UNCHECKED_LOG_EVERY_S
        self._verifier = TokenVerifier(self._connection)

    def _connection(self) -> AbstractContextManager[psycopg.Connection]:
        with self._state:
            if self._closed:
                raise StorageError("the service is stopping: tokens are no longer looked up")
            if self._pool.closed:
                self._pool.open(wait=False)
        return self._pool.connection()

    def close(self) -> None:
        with self._state:
            self._closed = True
            self._pool.close()

    async def access(self, header: str | None) -> Access:
        """Whether the header authorises ingest. Configured tokens and cached scoped ones are answered at once;
        only a scoped token not seen for a while costs a database lookup, in a thread."""
        if bearer_authorised(header, self._tokens):
            return Access.GRANTED
        known, token = self._verifier.cached(header)
        if known:
            return _ingest_allowed(token)
        return await anyio.to_thread.run_sync(self._scoped, header)

    def _scoped(self, header: str | None) -> Access:
        try:
            return _ingest_allowed(self._verifier.verify(header))
        except (StorageError, psycopg.Error) as exc:
            lately = self._verifier.confirmed_lately(header)
            if lately is not None:
                return _ingest_allowed(lately)
            self._note_unchecked(exc)
            return Access.UNCHECKED

    def _note_unchecked(self, exc: Exception) -> None:
        with self._state:
            self._unchecked += 1
            now = time.monotonic()
            if now - self._unchecked_logged_at < UNCHECKED_LOG_EVERY_S:
                return
            count, self._unchecked, self._unchecked_logged_at = self._unchecked, 0, now
        log.warning("%d scoped token(s) could not be checked and were answered 503: the database did not answer"
                    " in time or too many lookups wait for it (%s)", count, type(exc).__name__)


def _ingest_allowed(token: Token | None) -> Access:
    return Access.GRANTED if token is not None and token.allows(Scope.INGEST) else Access.REFUSED
