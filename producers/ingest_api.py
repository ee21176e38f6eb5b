"""HTTP ingest for lab systems: ``POST /v1/results`` with one result (JSON) or a batch (NDJSON).

* Bearer tokens from settings (``QSMON_INGEST_TOKENS``), compared in constant time.
* 202 ``{"accepted": n}`` only once Kafka acknowledged every record (acks=all).
* All or nothing: one invalid record rejects the request with 422 and the per-record errors (the first
  ``QSMON_INGEST_MAX_ERRORS``, then a count); nothing is sent, so a client fixes the batch and sends it again.
  400 for a body that is not JSON/NDJSON at all, 401 without a valid token, 413 past the size limit, 415 for
  another content type, 503 when Kafka does not acknowledge within ``QSMON_INGEST_ACK_TIMEOUT_S``.
* One client cannot starve the others: parsing runs in a small thread pool, off the event loop; a batch holds
  at most ``QSMON_INGEST_MAX_RECORDS`` lines; slow senders are cut off (producers/slow_clients.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, FastAPI, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, make_asgi_app
from pydantic import BaseModel

from producers.exceptions import ProduceError
from producers.ingest_checks import SampleLookup, refused_records
from producers.ingest_quota import Senders
from producers.kafka_sink import ResultSink
from qsmon import clock
from qsmon.auth import RETRY_AFTER_S, Caller, IngestAuthoriser, TokenUncheckedError
from qsmon.exceptions import InvalidResultError
from qsmon.health import Cached
from qsmon.schema import InspectionResult, parse_result
from qsmon.settings import Settings
from qsmon.topics import TopicProbe

access_log = logging.getLogger("qsmon.ingest.access")

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
JSON_TYPE = "application/json"


class Accepted(BaseModel):
    accepted: int


class RecordError(BaseModel):
    line: int  # 1-based line of an NDJSON body (1 for a single JSON object)
    sample_id: str | None
    error: str


class Rejected(BaseModel):
    accepted: int = 0
    error_count: int  # every invalid record; only the first ones are listed
    errors: list[RecordError]


class Problem(BaseModel):
    detail: str


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body larger than {limit} bytes")
    return bytes(body)


def _lines(body: bytes) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers, without a list of millions of slices in memory."""
    start, number = 0, 0
    while start < len(body):
        end = body.find(b"\n", start)
        end = len(body) if end < 0 else end
        number += 1
        line = body[start:end]
        if line.strip():
            yield number, line
        start = end + 1


@dataclass
class Parsed:
    results: list[InspectionResult] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)  # the first ``max_errors``
    error_count: int = 0


def parse_body(body: bytes, media_type: str, *, max_records: int, max_errors: int, now: datetime) -> Parsed:
    """Validate every record of a request (runs in a worker thread): results, or why each line is refused."""
    if not body.strip():
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "empty body")
    if media_type in NDJSON_TYPES:
        lines = body.count(b"\n") + 1
        if lines > max_records:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{lines} lines: at most {max_records} records per request; split the batch",
            )
        records: Iterator[tuple[int, bytes]] = _lines(body)
    else:
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"body is not JSON: {exc}") from exc
        records = iter([(1, body)])
    parsed = Parsed()
    for number, line in records:
        try:
            result = parse_result(line)
            result.check_not_future(now)  # the worker would dead-letter it: refuse it while the client listens
        except InvalidResultError as exc:
            parsed.error_count += 1
            if len(parsed.errors) < max_errors:
                sample_id = exc.context.get("sample_id")
                parsed.errors.append(
                    RecordError(
                        line=number, error=exc.message, sample_id=sample_id if isinstance(sample_id, str) else None
                    )
                )
            continue
        if not parsed.error_count:  # after the first error only the count matters: nothing will be sent
            parsed.results.append(result)
    return parsed


async def _deliver(
    sink: ResultSink,
    caller: Caller,
    results: list[InspectionResult],
    ack_timeout_s: float,
    limiter: anyio.CapacityLimiter,
    senders: Senders,
) -> int:
    """Send ``results`` as ``caller``'s and wait for Kafka's acknowledgement; 503 (the quota given back) if late."""
    try:
        with anyio.fail_after(ack_timeout_s + 0.5):
            count = await anyio.to_thread.run_sync(
                sink.deliver, results, ack_timeout_s, caller.sender, limiter=limiter, abandon_on_cancel=True
            )
    except (ProduceError, TimeoutError) as exc:
        senders.give_back(caller, len(results))
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "Kafka did not acknowledge the records in time; resend them (the worker de-duplicates)",
        ) from exc
    senders.delivered(caller, results)
    return int(count)


def _media_type(content_type: str | None) -> str:
    """The request's media type; 415 unless JSON or NDJSON."""
    media_type = (content_type or "").split(";", maxsplit=1)[0].strip().lower()
    if media_type not in (JSON_TYPE, *NDJSON_TYPES):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"send {JSON_TYPE} (one result) or {NDJSON_TYPES[0]} (a batch)"
        )
    return media_type


async def _forbidden(
    caller: Caller,
    results: list[InspectionResult],
    samples: SampleLookup,
    limiter: anyio.CapacityLimiter,
    max_errors: int,
) -> JSONResponse | None:
    """403 with the records ``caller`` may not send (qsmon.provenance), None when it may send them all."""
    refused = await anyio.to_thread.run_sync(refused_records, caller, results, samples, limiter=limiter)
    if not refused:
        return None
    errors = [
        RecordError(line=index + 1, sample_id=sample_id, error=reason)
        for index, sample_id, reason in refused[:max_errors]
    ]
    return JSONResponse(Rejected(error_count=len(refused), errors=errors).model_dump(), status_code=403)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated description, plus the request body the handler reads itself: clients and fuzzers see it."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        result = InspectionResult.model_json_schema(ref_template="#/components/schemas/{model}")
        spec.setdefault("components", {}).setdefault("schemas", {}).update(result.pop("$defs", {}))
        spec["components"]["schemas"]["InspectionResult"] = result
        spec["paths"]["/v1/results"]["post"]["requestBody"] = {
            "required": True,
            "content": {
                JSON_TYPE: {"schema": {"$ref": "#/components/schemas/InspectionResult"}},
                NDJSON_TYPES[0]: {"schema": {"type": "string", "description": "one InspectionResult JSON per line"}},
            },
        }
        app.openapi_schema = spec
    return app.openapi_schema


# Further endpoints served with the ingest API (the case steps: cases.api), made with its settings and token checks.
RouterFactory = Callable[[Settings, IngestAuthoriser], APIRouter]


async def require_ingest(authorised: IngestAuthoriser, authorization: str | None) -> Caller:
    """Who sends: 401 unless the Authorization header allows ingest; 503 while a scoped token cannot be checked."""
    try:
        caller = await authorised.caller(authorization)
    except TokenUncheckedError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, exc.message, headers={"Retry-After": str(RETRY_AFTER_S)}
        ) from None
    if caller is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    return caller


def ingest_token(authorised: IngestAuthoriser) -> Callable[..., Awaitable[Caller]]:
    """A dependency checking the token before anything else of the request (its path and body included)."""

    async def check(authorization: Annotated[str | None, Header()] = None) -> Caller:
        return await require_ingest(authorised, authorization)

    return check


def create_app(
    settings: Settings, *, registry: CollectorRegistry | None = None, routers: Sequence[RouterFactory] = ()
) -> FastAPI:
    """The ingest API, with the endpoints ``routers`` make."""
    registry = registry or CollectorRegistry()
    requests = Counter("qsmon_ingest_requests_total", "Ingest requests by HTTP status", ["status"], registry=registry)
    records = Counter("qsmon_ingest_records_total", "Records acknowledged by Kafka", registry=registry)
    senders = Senders(registry, settings.ingest_max_records, settings.ingest_records_per_minute)
    authorised = IngestAuthoriser(settings)
    samples = SampleLookup(settings)
    state: dict[str, ResultSink] = {}
    # Parsing is CPU work: at most this many requests parse at once, each in its own thread, so the event loop
    # (health checks, other clients' uploads) keeps running whatever one client sends.
    parsers = anyio.CapacityLimiter(2)
    # Deliveries wait for Kafka, not the CPU: their own pool, so a broker that is away makes requests queue here and
    # fail after the acknowledgement timeout, measured from when the request asked, not from when a thread was free.
    deliveries = anyio.CapacityLimiter(16)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            state["sink"] = ResultSink(settings, client_id="qsmon-ingest", max_block_s=settings.ingest_ack_timeout_s)
            yield
        finally:
            if "sink" in state:
                state.pop("sink").close()
            authorised.close()
            samples.close()

    app = FastAPI(
        title="qsmon ingest",
        version="1.0",
        description="Inspection results (schema v1, see docs/event-schema.md) from lab systems into Kafka.",
        lifespan=lifespan,
    )
    app.mount("/metrics", make_asgi_app(registry))
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.middleware("http")
    async def count_and_log(request: Request, call_next: Any) -> Any:
        started = time.monotonic()
        response = await call_next(request)
        if request.url.path.startswith("/v1/"):
            requests.labels(str(response.status_code)).inc()
            # The access log: who sent what and how it went. Never headers (the bearer token) nor the query.
            access_log.info(
                "%s %s %s %d %.0fms",
                request.client.host if request.client else "-",
                request.method,
                request.url.path,
                response.status_code,
                (time.monotonic() - started) * 1000,
                extra={
                    "client": request.client.host if request.client else None,
                    "method": request.method,
                    "path": request.url.path,
                    "status": response.status_code,
                    "length": request.headers.get("content-length"),
                },
            )
        return response

    @app.post(
        "/v1/results",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses={
            400: {"model": Problem},
            401: {"model": Problem},
            403: {
                "model": Rejected,
                "description": "records this token may not send (its lab, source, regions"
                " or categories; another sender's sample; not the next revision): nothing was sent",
            },
            413: {"model": Problem},
            415: {"model": Problem},
            422: {"model": Rejected},
            429: {"model": Problem, "description": "past the sender's records a minute; see Retry-After"},
            503: {"model": Problem},
        },
        summary="Submit one result (application/json) or a batch (application/x-ndjson)",
    )
    async def post_results(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        content_type: Annotated[str | None, Header()] = None,
    ) -> Any:
        caller = await require_ingest(authorised, authorization)
        media_type = _media_type(content_type)
        body = await _read_limited(request, settings.ingest_max_body_bytes)
        parsed = await anyio.to_thread.run_sync(
            lambda: parse_body(
                body,
                media_type,
                max_records=settings.ingest_max_records,
                max_errors=settings.ingest_max_errors,
                now=clock.now(),
            ),
            limiter=parsers,
        )
        if parsed.error_count:
            rejected = Rejected(error_count=parsed.error_count, errors=parsed.errors)
            return JSONResponse(rejected.model_dump(), status_code=422)
        forbidden = await _forbidden(caller, parsed.results, samples, parsers, settings.ingest_max_errors)
        if forbidden is not None:
            return forbidden
        senders.admit(caller, len(parsed.results))  # 429 past the sender's quota
        count = await _deliver(
            state["sink"], caller, parsed.results, settings.ingest_ack_timeout_s, deliveries, senders
        )
        records.inc(count)
        return Accepted(accepted=count)

    kafka_ready = Cached(TopicProbe(settings.kafka_bootstrap, settings.results_topic))

    @app.get("/healthz", summary="Liveness: the server answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Readiness: Kafka answers for the results topic",
        responses={503: {"description": "not ready; `problems` says why"}},
    )
    async def readyz() -> JSONResponse:
        problem = await anyio.to_thread.run_sync(kafka_ready)
        problems = {"kafka": problem} if problem else {}
        return JSONResponse(
            {"status": "fail" if problems else "ok", "problems": problems}, status_code=503 if problems else 200
        )

    for make_router in routers:
        app.include_router(make_router(settings, authorised))
    return app


def server_config(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    registry: CollectorRegistry | None = None,
    routers: Sequence[RouterFactory] = (),
) -> Any:
    """The uvicorn configuration of the ingest service: the app, its address and the slow-client deadlines."""
    import uvicorn

    from producers.slow_clients import deadline_protocol

    return uvicorn.Config(
        create_app(settings, registry=registry, routers=routers),
        host=host or settings.ingest_host,
        port=port or settings.ingest_port,
        http=deadline_protocol(settings.ingest_header_timeout_s, settings.ingest_body_timeout_s),
        log_level="warning",
        timeout_keep_alive=5,
        log_config=None,  # qsmon.logs configures logging (text or JSON); uvicorn's access log stays off: ours
        # (count_and_log) leaves out the query and the headers
    )
