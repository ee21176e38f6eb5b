"""``POST /v1/cases/{case_id}/steps``: a lab or case system records a step, with the ingest API's bearer tokens.

Served by the ingest service (``qsmon serve ingest`` mounts this router). Every refusal is a 4xx with the reason
and changes nothing: 404 unknown case, 422 unknown step, step out of order, a date before the failure or in the
future, a closed case; a retried request with the same date answers 200 again.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from cases.exceptions import CaseNotFoundError, StepRefusedError
from cases.store import Progress, record_step
from producers.ingest_api import ingest_token
from qsmon import clock
from qsmon.auth import IngestAuthoriser
from qsmon.case_rules import load_table
from qsmon.settings import Settings


class StepDone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str = Field(min_length=1, max_length=64, description="the step's id, e.g. serve_conclusion")
    done_on: date = Field(description="the local day it was done")
    done_by: str = Field(min_length=1, max_length=200, description="who did it")
    note: str = Field(default="", max_length=2000)
    attachment: str | None = Field(default=None, max_length=500, description="a document's number or file name")


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
    table = load_table(settings.case_deadlines_file)
    api = APIRouter()

    def record(case_id: int, body: StepDone) -> CaseAnswer:
        from qsmon.storage import connect

        today = clock.today(settings.timezone)
        with connect(settings.dsn, application_name="qsmon-cases-api") as conn:
            case = record_step(conn, table, case_id, Progress(body.step, body.done_on, body.done_by, body.note,
                                                              body.attachment),
                               today=today, via="api", soon_working_days=settings.cases_due_soon_working_days)
        return CaseAnswer(id=case.id, sample_id=case.sample_id, status=case.status,
                          steps=[CaseStep(step=s.step, name=s.name, basis=s.basis, due_on=s.due_on,
                                          done_on=s.done_on, state=s.state(today).value) for s in case.steps])

    @api.post(
        "/v1/cases/{case_id}/steps",
        response_model=CaseAnswer,
        responses={401: {"description": "no valid bearer token"},
                   404: {"description": "no such case"},
                   422: {"description": "the step cannot be recorded as given; nothing changed"},
                   503: {"description": "the token could not be checked now; try again"}},
        summary="Record a follow-up step (核查处置) of a failed sample's case as done",
        dependencies=[Depends(ingest_token(authorised))],  # the token first: strangers learn nothing of the API
    )
    async def post_step(case_id: int, body: StepDone) -> Any:
        try:
            return await anyio.to_thread.run_sync(record, case_id, body)
        except CaseNotFoundError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        except StepRefusedError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None

    return api
