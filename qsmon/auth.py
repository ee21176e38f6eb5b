"""Bearer tokens of the HTTP services: the configured ingest tokens (QSMON_INGEST_TOKENS) and the scoped tokens of
`qsmon tokens` (qsmon.tokens), which the ingest API and the case endpoints take when they carry the ingest scope."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass

import anyio
import psycopg
from psycopg_pool import ConnectionPool

from qsmon.exceptions import QsmonError, StorageError
from qsmon.provenance import Authority, Sender, WriteScope
from qsmon.regions import is_within
from qsmon.settings import Settings
from qsmon.tokens import UNLIMITED, Scope, Token, TokenVerifier

log = logging.getLogger("qsmon.auth")


def bearer_authorised(header: str | None, tokens: list[bytes]) -> bool:
    """The Authorization header carries one of ``tokens``. Every token is compared, in constant time: the time
    taken says nothing about which one matched, or how much of one."""
    return bearer_match(header, tokens) is not None


def bearer_match(header: str | None, tokens: list[bytes]) -> int | None:
    """The index of the token of ``tokens`` the header carries (every one compared, in constant time)."""
    if not header or not header.startswith("Bearer ") or not tokens:
        return None
    offered = header.removeprefix("Bearer ").strip().encode()
    matched: int | None = None
    for index, token in enumerate(tokens):
        if hmac.compare_digest(offered, token):
            matched = index
    return matched


# Unknown tokens are whatever clients send, and each costs a lookup. Looked up on a connection of its own, every
# guess made PostgreSQL start a backend and run a SCRAM exchange, and a flood of them could take every connection
# the database allows. Lookups of tokens not seen before share this many connections, in at most this many more
# threads waiting for one; beyond that they are answered at once, without a thread or the database.
LOOKUP_CONNECTIONS = 2
LOOKUP_QUEUE = 16
# Tokens the database confirmed before are re-checked (every tokens.CACHE_SECONDS) on a connection of their own,
# which guesses never reach: however many strangers guess, a lab system in use keeps getting through, and a revoked
# token is refused within CACHE_SECONDS.
RECHECK_CONNECTIONS = 1
RECHECK_QUEUE = 8
LOOKUP_WAIT_S = 3.0
# A growing pool retries a connection that failed for this long (backoff 1 s, 2 s, …) before giving up; the next
# lookup starts again at once, so a database that returns is used within seconds, not the default's minutes.
RECONNECT_WITHIN_S = 5.0
# Lookups that could not be made are logged once a while, counted: a flood of guesses would otherwise write a line
# each.
UNCHECKED_LOG_EVERY_S = 60.0


RETRY_AFTER_S = 5  # what the services' 503 for an unchecked token tells the client


class TokenUncheckedError(QsmonError):
    """A scoped token could not be checked now (the database did not answer, or too many lookups wait): the
    services answer 503 with its message and ``Retry-After: RETRY_AFTER_S``."""


@dataclass
class _Lookups:
    """Connections and threads for one kind of lookup."""

    pool: ConnectionPool
    threads: anyio.CapacityLimiter


class ScopedTokens:
    """The scoped tokens (qsmon.tokens) an HTTP service takes, looked up on connections of their own: never the
    service's other connections, and no more of them than LOOKUP_CONNECTIONS + RECHECK_CONNECTIONS."""

    def __init__(self, settings: Settings, application_name: str) -> None:
        from psycopg.conninfo import make_conninfo

        from qsmon.storage.db import with_session_options

        conninfo = make_conninfo(with_session_options(settings.dsn, application_name), connect_timeout=3)

        def lookups(kind: str, connections: int, queue: int) -> _Lookups:
            # Opened at the first lookup, in a request's thread; an idle connection is closed after a minute or two.
            pool = ConnectionPool(
                conninfo,
                min_size=0,
                max_size=connections,
                max_waiting=queue,
                timeout=LOOKUP_WAIT_S,
                max_idle=60,
                reconnect_timeout=RECONNECT_WITHIN_S,
                check=ConnectionPool.check_connection,
                open=False,
                name=f"{application_name}-{kind}",
            )
            return _Lookups(pool, anyio.CapacityLimiter(connections + queue))

        self._new = lookups("new", LOOKUP_CONNECTIONS, LOOKUP_QUEUE)
        self._recheck = lookups("recheck", RECHECK_CONNECTIONS, RECHECK_QUEUE)
        self._state = threading.Lock()
        self._closed = False
        self._unchecked_count = 0
        self._unchecked_logged_at = -UNCHECKED_LOG_EVERY_S
        self._verifier = TokenVerifier(
            lambda: self._connection(self._new.pool), reconfirm=lambda: self._connection(self._recheck.pool)
        )

    def _connection(self, pool: ConnectionPool) -> AbstractContextManager[psycopg.Connection]:
        with self._state:
            if self._closed:
                raise StorageError("the service is stopping: tokens are no longer looked up")
            if pool.closed:
                pool.open(wait=False)
        return pool.connection()

    def close(self) -> None:
        with self._state:
            self._closed = True
            self._new.pool.close()
            self._recheck.pool.close()

    async def lookup(self, header: str | None) -> Token | None:
        """The token the Authorization header carries, None when there is no such token. Cached tokens are answered
        at once; only one not seen for a while costs a database lookup, in a thread. Raises TokenUncheckedError."""
        known, token = self._verifier.cached(header)
        if known:
            return token
        lookups = self._recheck if self._verifier.confirmed_before(header) else self._new
        if lookups.threads.available_tokens < 1:  # as many lookups wait as the pool would let queue
            # No grace here: many requests at once with a token revoked a moment ago would all be let in.
            raise self._unchecked("lookups queued")
        return await anyio.to_thread.run_sync(self._verify, header, limiter=lookups.threads)

    def _verify(self, header: str | None) -> Token | None:
        try:
            return self._verifier.verify(header)
        except (StorageError, psycopg.Error) as exc:
            # The database did not answer the lookup in LOOKUP_WAIT_S: down, or cut off from this service.
            lately = self._verifier.confirmed_lately(header)
            if lately is not None:
                return lately
            raise self._unchecked(type(exc).__name__) from None

    def _unchecked(self, reason: str) -> TokenUncheckedError:
        with self._state:
            self._unchecked_count += 1
            now = time.monotonic()
            due = now - self._unchecked_logged_at >= UNCHECKED_LOG_EVERY_S
            if due:
                count, self._unchecked_count, self._unchecked_logged_at = self._unchecked_count, 0, now
        if due:
            log.warning(
                "%d scoped token(s) could not be checked and were answered 503: the database did not answer"
                " in time or too many lookups wait for it (%s)",
                count,
                reason,
            )
        return TokenUncheckedError("the token could not be checked now; try again", reason=reason)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who an accepted ingest request comes from: the sender its records carry and what it may write. ``token`` is
    the scoped token (None for a configured one)."""

    sender: Sender
    write_scope: WriteScope
    token: Token | None = None

    def records_per_minute(self, default: int) -> int:
        """Its ingest quota: the token's own, else ``default`` (QSMON_INGEST_RECORDS_PER_MINUTE)."""
        own = self.token.records_per_minute if self.token is not None else None
        return own or default

    def covers(self, region_code: str) -> bool:
        regions = self.write_scope.regions
        return regions is None or any(is_within(region_code, r) for r in regions)


class IngestAuthoriser:
    """A configured ingest token, or a scoped token allowing ``ingest``. A database that cannot be asked leaves
    scoped tokens unchecked (503), unless it confirmed them lately (tokens.GRACE_SECONDS); configured tokens keep
    working through an outage."""

    def __init__(self, settings: Settings) -> None:
        self._tokens = [t.get_secret_value().encode() for t in settings.ingest_tokens]
        self._scoped = ScopedTokens(settings, "qsmon-auth")

    def close(self) -> None:
        self._scoped.close()

    async def allows(self, header: str | None) -> bool:
        """The header carries a token allowing ingest. Raises TokenUncheckedError (ScopedTokens.lookup)."""
        return await self.caller(header) is not None

    async def caller(self, header: str | None) -> Caller | None:
        """Who the header's token allows to ingest, None when it allows nothing. A configured token
        (QSMON_INGEST_TOKENS) sends as ``configured:<n>``, a lab without limits; a scoped one as its token.
        Raises TokenUncheckedError (ScopedTokens.lookup)."""
        index = bearer_match(header, self._tokens)
        if index is not None:
            return Caller(Sender(f"configured:{index + 1}", Authority.LAB), UNLIMITED)
        token = await self._scoped.lookup(header)
        if token is None or not token.allows(Scope.INGEST):
            return None
        return Caller(token.sender, token.write_scope, token)
