"""HTTP ingest for lab systems: ``POST /v1/results`` with one result (JSON) or a batch (NDJSON).

* Bearer tokens from settings (``QSMON_INGEST_TOKENS``), compared in constant time.
* 202 ``{"accepted": n}`` only once Kafka acknowledged every record (acks=all).
* All or nothing: one invalid record rejects the request with 422 and the per-record errors; nothing is sent,
  so a client fixes the batch and sends it again. 400 for a body that is not JSON/NDJSON at all, 401 without a
  valid token, 413 past the size limit, 503 when Kafka does not acknowledge.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, make_asgi_app
from pydantic import BaseModel

from producers.exceptions import ProduceError
from producers.kafka_sink import ResultSink
from qsmon.exceptions import InvalidResultError
from qsmon.schema import InspectionResult, parse_result
from qsmon.settings import Settings

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


class Accepted(BaseModel):
    accepted: int


class RecordError(BaseModel):
    line: int  # 1-based line of an NDJSON body (1 for a single JSON object)
    sample_id: str | None
    error: str


class Rejected(BaseModel):
    accepted: int = 0
    errors: list[RecordError]


class Problem(BaseModel):
    detail: str


def _authorised(header: str | None, tokens: list[bytes]) -> bool:
    if not header or not header.startswith("Bearer ") or not tokens:
        return False
    offered = header.removeprefix("Bearer ").strip().encode()
    matched = False
    for token in tokens:  # every token is compared: the time taken says nothing about which one matched
        matched |= hmac.compare_digest(offered, token)
    return matched


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


def _parse_body(body: bytes, content_type: str) -> tuple[list[InspectionResult], list[RecordError]]:
    if not body.strip():
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "empty body")
    if content_type.split(";", maxsplit=1)[0].strip() in NDJSON_TYPES:
        lines = [(n, line) for n, line in enumerate(body.split(b"\n"), 1) if line.strip()]
    else:
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"body is not JSON: {exc}") from exc
        lines = [(1, body)]
    results: list[InspectionResult] = []
    errors: list[RecordError] = []
    for number, line in lines:
        try:
            results.append(parse_result(line))
        except InvalidResultError as exc:
            sample_id = exc.context.get("sample_id")
            errors.append(RecordError(line=number, sample_id=sample_id if isinstance(sample_id, str) else None,
                                      error=exc.message))
    return results, errors


def create_app(settings: Settings, *, registry: CollectorRegistry | None = None) -> FastAPI:
    registry = registry or CollectorRegistry()
    requests = Counter("qsmon_ingest_requests_total", "Ingest requests by HTTP status", ["status"],
                       registry=registry)
    records = Counter("qsmon_ingest_records_total", "Records acknowledged by Kafka", registry=registry)
    tokens = [t.get_secret_value().encode() for t in settings.ingest_tokens]
    state: dict[str, ResultSink] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["sink"] = ResultSink(settings, client_id="qsmon-ingest")
        yield
        state.pop("sink").close()

    app = FastAPI(
        title="qsmon ingest", version="1.0",
        description="Inspection results (schema v1, see docs/event-schema.md) from lab systems into Kafka.",
        lifespan=lifespan,
    )
    app.mount("/metrics", make_asgi_app(registry))

    @app.middleware("http")
    async def count_statuses(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        if request.url.path.startswith("/v1/"):
            requests.labels(str(response.status_code)).inc()
        return response

    @app.post(
        "/v1/results",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses={400: {"model": Problem}, 401: {"model": Problem}, 413: {"model": Problem},
                   422: {"model": Rejected}, 503: {"model": Problem}},
        summary="Submit one result (application/json) or a batch (application/x-ndjson)",
    )
    async def post_results(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        content_type: Annotated[str, Header()] = "application/json",
    ) -> Any:
        if not _authorised(authorization, tokens):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})
        body = await _read_limited(request, settings.ingest_max_body_bytes)
        results, errors = _parse_body(body, content_type)
        if errors:
            return JSONResponse(Rejected(errors=errors).model_dump(), status_code=422)
        try:
            count = await run_in_threadpool(state["sink"].deliver, results)
        except ProduceError as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
        records.inc(count)
        return Accepted(accepted=count)

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
