"""Cursor pagination: the cursor is the last row's sort key, opaque to clients (URL-safe base64 of JSON)."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import orjson
from fastapi import HTTPException, status


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
        return date.fromisoformat(value)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError("not an integer")
    if kind is str and (not isinstance(value, str) or any(ord(c) < 0x20 or c == "\x7f" for c in value)):
        raise ValueError("not plain text")  # a NUL the database would refuse is this API's 400, not its 500
    return value
