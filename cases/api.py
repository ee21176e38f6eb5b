"""``POST /v1/cases/{case_id}/steps``: a lab or case system records a step, with the ingest API's bearer tokens.

Served by the ingest service (``qsmon serve ingest`` mounts this router). Every refusal is a 4xx with the reason
and changes nothing: 404 unknown case, 422 unknown step, step out of order, a date before the failure or in the
future, a closed case; a retried request with the same date answers 200 again.

A token records steps only of cases in its regions (qsmon.tokens: the regions it may write); a case elsewhere is
answered exactly as a case that does not exist, before the step is looked at, so ids cannot be probed. ``done_by``,
``note`` and ``attachment`` obey the results' text rule (qsmon.schema.NO_CONTROL); who recorded the step is kept as
``api:<sender>``. Requests share a small connection pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, status
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cases.exceptions import CaseNotFoundError, StepRefusedError
from cases.store import Progress, get_case, record_step
from producers.ingest_api import ingest_token
from qsmon import clock
from qsmon.auth import Caller, IngestAuthoriser
from qsmon.case_rules import load_table
from qsmon.schema import NO_CONTROL
from qsmon.settings import Settings

# One answer whether the case does not exist or lies outside the token's regions.
NO_SUCH_CASE = "no such case"
POOL_SIZE = 4  # steps are recorded by people's systems a few times a minute; the ingest API's threads are 16


def _text(max_length: int, min_length: int = 0) -> Any:
    """The results' text rule (qsmon.schema.NO_CONTROL): no control, line-separator or invisible characters."""
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=NO_CONTROL)


class StepDone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str = Field(min_length=1, max_length=64, description="the step's id, e.g. serve_conclusion")
    done_on: date = Field(description="the local day it was done")
    done_by: Annotated[str, _text(200, 1)] = Field(description="who did it")
    note: Annotated[str, _text(2000)] = ""
    attachment: Annotated[str, _text(500)] | None = Field(default=None, description="a document's number or file name")


class CaseStep(BaseModel):
    step: str
    name: str
    basis: str
    due_on: date | None
    done_on: date | None
    state: str


class CaseAnswer(BaseModel):
    id: int
    sample_id: str
    status: str
    steps: list[CaseStep]


def router(settings: Settings, authorised: IngestAuthoriser) -> APIRouter:
    """The case-step endpoint, checking tokens with the ingest service's ``authorised`` (and its connections)."""
    from qsmon.storage.db import with_session_options

    table = load_table(settings.case_deadlines_file)
    pool = ConnectionPool(
        with_session_options(settings.dsn, "qsmon-cases-api"),
        min_size=0,
        max_size=POOL_SIZE,
        timeout=5,
        max_idle=60,
        open=False,
        name="qsmon-cases-api",
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool.open()  # no connection yet (min_size 0): the first request opens one
        try:
            yield
        finally:
            pool.close()

    api = APIRouter(lifespan=lifespan)
    checked_token = ingest_token(authorised)

    def record(case_id: int, body: StepDone, caller: Caller) -> CaseAnswer:
        today = clock.today(settings.timezone)
        with pool.connection() as conn:
            if not caller.covers(get_case(conn, case_id).region_code):
                raise CaseNotFoundError(NO_SUCH_CASE)
            case = record_step(
                conn,
                table,
                case_id,
                Progress(body.step, body.done_on, body.done_by, body.note, body.attachment),
                today=today,
                via=f"api:{caller.sender.id}",
                soon_working_days=settings.cases_due_soon_working_days,
            )
        return CaseAnswer(
            id=case.id,
            sample_id=case.sample_id,
            status=case.status,
            steps=[
                CaseStep(
                    step=s.step,
                    name=s.name,
                    basis=s.basis,
                    due_on=s.due_on,
                    done_on=s.done_on,
                    state=s.state(today).value,
                )
                for s in case.steps
            ],
        )

    @api.post(
        "/v1/cases/{case_id}/steps",
        response_model=CaseAnswer,
        responses={
            401: {"description": "no valid bearer token"},
            404: {"description": "no such case, or not in this token's regions (one answer for both)"},
            422: {"description": "the step cannot be recorded as given; nothing changed"},
            503: {"description": "the token could not be checked now; try again"},
        },
        summary="Record a follow-up step (核查处置) of a failed sample's case as done",
    )
    async def post_step(
        case_id: Annotated[int, Path(ge=1, le=2**62)],
        body: StepDone,
        # the token first (dependencies run before parameters are checked): strangers learn nothing
        # of the API. A default, not Annotated: the annotation could not name this closure's check.
        caller: Caller = Depends(checked_token),  # noqa: B008
    ) -> Any:
        try:
            return await anyio.to_thread.run_sync(record, case_id, body, caller)
        except CaseNotFoundError:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NO_SUCH_CASE) from None
        except StepRefusedError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None

    return api
