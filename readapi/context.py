"""The read API's shared state and rules: tokens and scopes, rate limits, validation, problem+json answers."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
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
from qsmon.auth import RETRY_AFTER_S, ScopedTokens, TokenUncheckedError
from qsmon.plans.model import Indicator, Plan
from qsmon.regions import NATION, children
from qsmon.settings import Settings
from qsmon.tokens import Scope, Token
from qsmon.vocab import SamplingType
from readapi.pagination import encode

PROBLEM_TYPE = "application/problem+json"
MAX_PAGE = 1000
MAX_DAYS = 366 * 20
# What one request may read: daily buckets over a year at most, weekly over three (as the dashboards bucket them);
# a monthly series over three years (each month is a full evaluation).
MAX_DAYS_BY_GROUP = {"day": 370, "week": 3 * 366}
MAX_SERIES_DAYS = 3 * 366
# Any day a request names lies in these years: nothing was sampled before 2000 (qsmon.schema.EARLIEST_PLAUSIBLE),
# and month arithmetic on 9999-12-31 overflows (a 500 before).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
# A public token's failures cursor is a row position: beyond this the OFFSET scan costs more than any page is worth.
MAX_OFFSET = 100_000
STATEMENT_TIMEOUT = "10s"  # a query the limits above let through still cannot hold a connection for long
WINDOW_PATTERN = r"^(rolling_\d{1,3}d|month_to_date|quarter_to_date|year_to_date|plan_period|no_data|pace)$"
_TITLES = {
    400: "bad request",
    401: "unauthorised",
    403: "forbidden",
    404: "not found",
    422: "invalid parameters",
    429: "too many requests",
    503: "unavailable",
}


def problem(status_code: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    """An RFC 9457 problem document."""
    return JSONResponse(
        {"type": "about:blank", "title": _TITLES.get(status_code, "error"), "status": status_code, "detail": detail},
        status_code=status_code,
        media_type=PROBLEM_TYPE,
        headers=headers,
    )


class RateLimiter:
    """A token bucket per API token: ``rate_per_minute`` requests a minute, in bursts of at most ``burst_seconds``
    of it (a burst the size of the whole minute let one token take every thread at once). Each of ``shares``
    processes serving the API enforces its share, so together they allow the token's rate."""

    def __init__(self, shares: int = 1, burst_seconds: float = 10.0) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}
        self._shares = shares
        self._burst_seconds = burst_seconds

    def retry_after(self, token: Token) -> int:
        """0 when the request may go; else the seconds until it may."""
        now = time.monotonic()
        per_second = token.rate_per_minute / self._shares / 60
        capacity = max(1.0, per_second * self._burst_seconds)
        level, at = self._buckets.get(token.id, (capacity, now))
        level = min(capacity, level + (now - at) * per_second)
        if level >= 1:
            self._buckets[token.id] = (level - 1, now)
            return 0
        self._buckets[token.id] = (level, now)
        return max(1, math.ceil((1 - level) / per_second))


class ConcurrencyCap:
    """At most ``limit`` requests of one token at a time in this process: one client hammering with many threads
    keeps only its share of threads, connections and CPU, and the others' requests theirs. A request over the cap
    waits for a slot up to ``wait_s`` (a coroutine, no thread), then gets 429: a client retrying at once without
    reading Retry-After asks a few times a second, not hundreds (each answer costs the event loop)."""

    def __init__(self, limit: int, wait_s: float = 1.0) -> None:
        self.limit = limit
        self._wait_s = wait_s
        self._slots: dict[int, anyio.Semaphore] = {}

    async def enter(self, token: Token) -> bool:
        slots = self._slots.setdefault(token.id, anyio.Semaphore(self.limit))
        with anyio.move_on_after(self._wait_s):
            await slots.acquire()
            return True
        return False

    def leave(self, token: Token) -> None:
        self._slots[token.id].release()


@dataclass
class Context:
    """What every request reads: settings, plans, regions, the pool, the scoped tokens and the limiter."""

    settings: Settings
    pool: ConnectionPool
    plans: dict[str, Plan]
    known_regions: set[str]
    published: tuple[str, ...]
    tokens: ScopedTokens
    limiter: RateLimiter = field(default_factory=RateLimiter)
    running: ConcurrencyCap = field(default_factory=lambda: ConcurrencyCap(1))

    def today(self) -> date:
        return clock.today(self.settings.timezone)

    @contextmanager
    def reading(self) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
            yield conn
            conn.rollback()

    def run(self, fn: Callable[[psycopg.Connection], Any]) -> Any:
        with self.reading() as conn:
            return fn(conn)

    def region_of(self, code: str | None, default: str = NATION) -> str:
        if code is None:
            return default
        if code != NATION and code not in self.known_regions:
            raise HTTPException(422, f"unknown region {code}: a GB/T 2260 code such as 421000 (荆州市)")
        return code

    def plan_of(self, plan_id: str) -> Plan:
        if plan_id not in self.plans:
            raise HTTPException(404, f"no plan {plan_id}")
        return self.plans[plan_id]

    def indicator_of(self, plan: Plan, indicator_id: str) -> Indicator:
        if indicator_id not in {i.id for i in plan.indicators}:
            raise HTTPException(404, f"plan {plan.id} has no indicator {indicator_id}")
        return plan.indicator(indicator_id)

    def scope_of(self, plan: Plan, code: str | None) -> str:
        """The plan's jurisdiction, or one of its regions (the plan evaluates no other)."""
        jurisdiction = plan.jurisdiction.code
        if code is None:
            return jurisdiction
        if code not in self.known_regions or not (code == jurisdiction or code in children_of(jurisdiction)):
            raise HTTPException(422, f"region {code} is neither plan {plan.id}'s jurisdiction nor a region of it")
        return code

    @staticmethod
    def non_public_indicators(plan: Plan) -> list[str]:
        """Indicators counting risk monitoring: its problem samples are not published, so public tokens see none."""
        return [i.id for i in plan.indicators if SamplingType.RISK_MONITORING in i.filter.sampling_types]


def children_of(code: str) -> set[str]:
    return {r.code for r in children(code)}


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def require(scope: Scope) -> Callable[[Request], Any]:
    """A dependency: the request's bearer token, when its scopes allow ``scope``, its budget is not spent and it
    has no more than its share of requests under way (held until the handler returns)."""

    async def check(request: Request) -> AsyncIterator[Token]:
        ctx = context(request)
        header = request.headers.get("authorization")
        try:  # most requests: from the cache, no thread, no database; never a connection of the queries
            token = await ctx.tokens.lookup(header)
        except TokenUncheckedError as exc:
            raise HTTPException(503, exc.message, {"Retry-After": str(RETRY_AFTER_S)}) from None
        if token is None:
            raise HTTPException(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
        if not token.allows(scope):
            raise HTTPException(
                403, f"this token's scopes ({', '.join(sorted(token.scopes))}) do not allow {scope.value}"
            )
        wait = ctx.limiter.retry_after(token)
        if wait:
            raise HTTPException(429, f"{token.rate_per_minute} requests a minute are spent", {"Retry-After": str(wait)})
        if not await ctx.running.enter(token):
            raise HTTPException(
                429,
                f"this token has {ctx.running.limit} requests under way already; wait for them",
                {"Retry-After": "1"},
            )
        try:
            yield token
        finally:
            ctx.running.leave(token)

    return check


def period(first: date, last: date, *, max_days: int | None = None) -> tuple[date, date]:
    for day in (first, last):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise HTTPException(
                422, f"{day} is outside the years this API answers for ({FIRST_DAY.year}–{LAST_DAY.year})"
            )
    if last < first:
        raise HTTPException(422, f"the period is inverted: from {first} is after to {last}")
    limit = max_days or MAX_DAYS
    if (last - first).days >= limit:
        raise HTTPException(422, f"the period is longer than {limit} days for this request")
    return first, last


def paged(
    request: Request, items: list[dict[str, Any]], limit: int, key: Callable[[dict[str, Any]], list[Any]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The page, its next cursor (None on the last page) and a Link header to the next page."""
    cursor = encode(key(items[-1])) if len(items) == limit else None
    headers = {}
    if cursor:
        headers["Link"] = f'<{request.url.include_query_params(cursor=cursor)}>; rel="next"'
    return {"items": items, "next_cursor": cursor}, headers
