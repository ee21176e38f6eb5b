"""The read API's shared state and rules: tokens and scopes, rate limits, validation, problem+json answers."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import anyio
import psycopg
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool

from qsmon import clock
from qsmon.plans.model import Plan
from qsmon.settings import Settings
from qsmon.tokens import Scope, Token, TokenVerifier
from readapi.pagination import encode

PROBLEM_TYPE = "application/problem+json"
MAX_PAGE = 1000
MAX_DAYS = 366 * 20
_TITLES = {400: "bad request", 401: "unauthorised", 403: "forbidden", 404: "not found", 422: "invalid parameters",
           429: "too many requests"}


def problem(status_code: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    """An RFC 9457 problem document."""
    return JSONResponse({"type": "about:blank", "title": _TITLES.get(status_code, "error"), "status": status_code,
                         "detail": detail}, status_code=status_code, media_type=PROBLEM_TYPE, headers=headers)


class RateLimiter:
    """A token bucket per API token: ``rate_per_minute`` requests a minute, bursts up to that many."""

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}

    def retry_after(self, token: Token) -> int:
        """0 when the request may go; else the seconds until it may."""
        now = time.monotonic()
        capacity = float(token.rate_per_minute)
        level, at = self._buckets.get(token.id, (capacity, now))
        level = min(capacity, level + (now - at) * capacity / 60)
        if level >= 1:
            self._buckets[token.id] = (level - 1, now)
            return 0
        self._buckets[token.id] = (level, now)
        return max(1, math.ceil((1 - level) * 60 / capacity))


@dataclass
class Context:
    """What every request reads: settings, plans, regions, the pool, the token verifier and the limiter."""

    settings: Settings
    pool: ConnectionPool
    plans: dict[str, Plan]
    known_regions: set[str]
    published: tuple[str, ...]
    verifier: TokenVerifier
    limiter: RateLimiter = field(default_factory=RateLimiter)

    def today(self) -> date:
        return clock.today(self.settings.timezone)

    @contextmanager
    def reading(self) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            conn.execute("SET TRANSACTION READ ONLY")
            yield conn
            conn.rollback()

    def run(self, fn: Callable[[psycopg.Connection], Any]) -> Any:
        with self.reading() as conn:
            return fn(conn)

    def region_of(self, code: str | None, default: str = "000000") -> str:
        if code is None:
            return default
        if code != "000000" and code not in self.known_regions:
            raise HTTPException(422, f"unknown region {code}: a GB/T 2260 code such as 421000 (荆州市)")
        return code

    def plan_of(self, plan_id: str) -> Plan:
        if plan_id not in self.plans:
            raise HTTPException(404, f"no plan {plan_id}")
        return self.plans[plan_id]


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def require(scope: Scope) -> Callable[[Request], Any]:
    """A dependency: the request's bearer token, when its scopes allow ``scope`` and its budget is not spent."""
    async def check(request: Request) -> Token:
        ctx = context(request)
        token = await anyio.to_thread.run_sync(ctx.verifier.verify, request.headers.get("authorization"))
        if token is None:
            raise HTTPException(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
        if not token.allows(scope):
            raise HTTPException(403, f"this token's scopes ({', '.join(sorted(token.scopes))}) do not allow"
                                     f" {scope.value}")
        wait = ctx.limiter.retry_after(token)
        if wait:
            raise HTTPException(429, f"{token.rate_per_minute} requests a minute are spent", {"Retry-After": str(wait)})
        return token
    return check


def period(first: date, last: date) -> tuple[date, date]:
    if last < first:
        raise HTTPException(422, f"the period is inverted: from {first} is after to {last}")
    if (last - first).days > MAX_DAYS:
        raise HTTPException(422, f"the period is longer than {MAX_DAYS} days")
    return first, last


def paged(request: Request, items: list[dict[str, Any]], limit: int, key: Callable[[dict[str, Any]], list[Any]]
          ) -> tuple[dict[str, Any], dict[str, str]]:
    """The page, its next cursor (None on the last page) and a Link header to the next page."""
    cursor = encode(key(items[-1])) if len(items) == limit else None
    headers = {}
    if cursor:
        headers["Link"] = f'<{request.url.include_query_params(cursor=cursor)}>; rel="next"'
    return {"items": items, "next_cursor": cursor}, headers
