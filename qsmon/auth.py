"""Bearer tokens of the HTTP services: the configured ingest tokens (QSMON_INGEST_TOKENS) and the scoped tokens of
`qsmon tokens` (qsmon.tokens), which the ingest API and the case endpoints take when they carry the ingest scope."""

from __future__ import annotations

import hmac
import logging
import threading
from contextlib import AbstractContextManager

import anyio
import psycopg

from qsmon.exceptions import StorageError
from qsmon.settings import Settings
from qsmon.tokens import Scope, TokenVerifier

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
# the database allows. Lookups share this many connections; this many more wait for one (3 s at most); beyond
# that a guess is refused at once, without the database.
LOOKUP_CONNECTIONS = 2
LOOKUP_QUEUE = 16


class IngestAuthoriser:
    """A configured ingest token, or a scoped token allowing ``ingest``. A database that cannot be asked refuses the
    scoped tokens only: configured tokens keep working through an outage."""

    def __init__(self, settings: Settings) -> None:
        from psycopg_pool import ConnectionPool

        from qsmon.storage.db import with_session_options

        self._tokens = [t.get_secret_value().encode() for t in settings.ingest_tokens]
        # Opened at the first lookup, in a request's thread; idle connections are closed again after a minute.
        self._pool = ConnectionPool(with_session_options(settings.dsn, "qsmon-auth"), min_size=0,
                                    max_size=LOOKUP_CONNECTIONS, max_waiting=LOOKUP_QUEUE, timeout=3, max_idle=60,
                                    open=False, name="qsmon-auth")
        self._opening = threading.Lock()
        self._verifier = TokenVerifier(self._connection)

    def _connection(self) -> AbstractContextManager[psycopg.Connection]:
        with self._opening:
            if self._pool.closed:
                self._pool.open(wait=False)
        return self._pool.connection()

    def close(self) -> None:
        self._pool.close()

    async def allows(self, header: str | None) -> bool:
        """The header authorises ingest. Configured tokens and cached scoped ones are answered at once; only a
        scoped token not seen for a while costs a database lookup, in a thread."""
        if bearer_authorised(header, self._tokens):
            return True
        known, token = self._verifier.cached(header)
        if known:
            return token is not None and token.allows(Scope.INGEST)
        return await anyio.to_thread.run_sync(self._scoped, header)

    def _scoped(self, header: str | None) -> bool:
        try:
            token = self._verifier.verify(header)
        except (StorageError, psycopg.Error) as exc:
            # The database away, or too many lookups already waiting for it (a flood of guesses): refused.
            log.warning("a scoped token could not be checked: the database did not answer in time or too many"
                        " lookups wait for it (%s)", type(exc).__name__)
            return False
        return token is not None and token.allows(Scope.INGEST)
