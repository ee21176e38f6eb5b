"""Bearer tokens of the HTTP services (the ingest API and the case endpoints share QSMON_INGEST_TOKENS)."""

from __future__ import annotations

import hmac


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
