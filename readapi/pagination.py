"""Cursor pagination: the cursor is the last row's sort key, opaque to clients (URL-safe base64 of JSON)."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import orjson
from fastapi import HTTPException, status

# What a cursor's parts may be: ids and positions this API hands out are far below the bound (PostgreSQL's bigint
# would refuse 2**63 with a 500), dates lie in the years any period may (readapi.context.FIRST_DAY … LAST_DAY).
MAX_CURSOR_INT = 2**62
FIRST_CURSOR_DAY, LAST_CURSOR_DAY = date(2000, 1, 1), date(2100, 12, 31)


def encode(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key, default=str)).decode().rstrip("=")


def decode(cursor: str | None, kinds: tuple[type, ...]) -> list[Any] | None:
    """The sort key a cursor carries, each part of the type ``kinds`` names (``date`` parts arrive as ISO text);
    a 400 for anything this API did not hand out."""
    if not cursor:
        return None
    refused = HTTPException(status.HTTP_400_BAD_REQUEST, "the cursor is not one this API handed out")
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise refused from None
    if not isinstance(key, list) or len(key) != len(kinds):
        raise refused
    try:
        return [_part(value, kind) for value, kind in zip(key, kinds, strict=True)]
    except (ValueError, TypeError):
        raise refused from None


def _part(value: Any, kind: type) -> Any:
    if kind is date:
        day = date.fromisoformat(value)
        if not FIRST_CURSOR_DAY <= day <= LAST_CURSOR_DAY:
            raise ValueError("a day out of range")
        return day
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError("not an integer")
    if kind is int and not 0 <= value <= MAX_CURSOR_INT:
        raise ValueError("out of range")  # base64([-1]) or [2**63]: this API's 400, never the database's 500
    if kind is str and (not isinstance(value, str) or any(ord(c) < 0x20 or c == "\x7f" for c in value)):
        raise ValueError("not plain text")  # a NUL the database would refuse is this API's 400, not its 500
    return value
