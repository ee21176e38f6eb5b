"""``qsmon serve api``: the figures as data (issue #18).

Every route needs a bearer token whose scopes allow it (qsmon.tokens: public < read < admin; ingest reads nothing),
answers JSON, CSV (UTF-8 with BOM) or xlsx, pages with cursors, carries an ETag (304 on If-None-Match) and
Cache-Control, and refuses anything it cannot answer exactly with an application/problem+json 4xx: an unknown
region, an inverted period, a page past the maximum. Each token has a request budget a minute: past it, 429 with
Retry-After. Database work runs in threads, in read-only transactions.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool, PoolTimeout

from qsmon.auth import ScopedTokens
from qsmon.plans import presets
from qsmon.regions import regions
from qsmon.settings import Settings
from qsmon.storage.db import with_session_options
from readapi.acks import router as ack_router
from readapi.context import ConcurrencyCap, Context, RateLimiter, problem
from readapi.forecast import router as forecast_router
from readapi.routes import router
from reports.published import public_columns

log = logging.getLogger("qsmon.api")
SWITCH_INTERVAL_S = 0.0005  # as the worker's (streams.run)


def app_from_settings() -> FastAPI:
    """The factory `qsmon serve api` gives uvicorn: each worker process builds its app from the settings."""
    from qsmon.settings import get_settings

    settings = get_settings()
    # A large answer renders in a thread; with the default 5 ms switch interval every other request's step waits that
    # long for the GIL: one token's workbooks tripled a cheap request's p95 (issue #31, bench/hammer.py).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    return create_app(settings, shares=settings.api_workers)


def create_app(settings: Settings, *, shares: int = 1) -> FastAPI:
    pool = ConnectionPool(
        with_session_options(settings.dsn, "qsmon-api"), min_size=1, max_size=8, open=False, timeout=5
    )  # a database that is away is a 503 in seconds, not a request held for 30
    ctx = Context(
        settings,
        pool,
        presets(settings.plans_dir),
        set(regions()),
        public_columns(settings.public_failure_columns),
        ScopedTokens(settings, "qsmon-api-auth"),
        RateLimiter(shares, settings.api_burst_seconds),
        ConcurrencyCap(settings.api_token_concurrency),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool.open()
        try:
            yield
        finally:
            pool.close()
            ctx.tokens.close()

    app = FastAPI(
        title="qsmon read API",
        version="1.0",
        lifespan=lifespan,
        description="Pass rates, indicator evaluations, alerts, failures and follow-up cases as data. "
        "Bearer tokens with scopes from `qsmon tokens create`.",
    )
    app.state.ctx = ctx

    @app.exception_handler(HTTPException)
    async def _http_problem(_: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, exc.detail, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _validation_problem(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()])

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_away(_: Request, exc: Exception) -> JSONResponse:
        log.warning("the database does not answer: %s", type(exc).__name__)
        return problem(503, "the database does not answer; try again shortly", {"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return problem(500, "the server failed to answer; the error is in its log")

    app.include_router(router)
    app.include_router(forecast_router)
    app.include_router(ack_router)
    return app
