"""Cursor pagination: the cursor is the last row's sort key, opaque to clients (URL-safe base64 of JSON)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from fastapi import HTTPException, status


def encode(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key, default=str)).decode().rstrip("=")


def decode(cursor: str | None, length: int) -> list[Any] | None:
    """The sort key a cursor carries; a 400 for anything this API did not hand out."""
    if not cursor:
        return None
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != length:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the cursor is not one this API handed out")
    return key
