"""Bearer tokens of the HTTP services: the configured ingest tokens (QSMON_INGEST_TOKENS) and the scoped tokens of
`qsmon tokens` (qsmon.tokens), which the ingest API and the case endpoints take when they carry the ingest scope."""

from __future__ import annotations

import hmac
import logging

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


class IngestAuthoriser:
    """A configured ingest token, or a scoped token allowing ``ingest``. A database that cannot be asked refuses the
    scoped tokens only: configured tokens keep working through an outage."""

    def __init__(self, settings: Settings) -> None:
        from qsmon.storage import connect

        self._tokens = [t.get_secret_value().encode() for t in settings.ingest_tokens]
        self._verifier = TokenVerifier(lambda: connect(settings.dsn, application_name="qsmon-auth",
                                                       connect_timeout_s=3))

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
            log.warning("scoped tokens cannot be checked: the database does not answer (%s)", type(exc).__name__)
            return False
        return token is not None and token.allows(Scope.INGEST)
