"""Acknowledging from the read API (issue #36): the signed link of a robot message, and tokens with the ack scope.

``GET /v1/ack?t=…`` only shows what the link acknowledges, with a button: chat apps open links to preview them, and
a preview must not spend a single-use link. The button POSTs, with the name of whoever acknowledges.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any
from urllib.parse import parse_qs

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from alerts.acks import AckClaim, acknowledge, redeem, verify
from alerts.exceptions import AckLinkError, AckLinkUsedError, NothingToAcknowledgeError
from qsmon import clock
from qsmon.tokens import Scope, Token
from readapi.context import Context, context, require

router = APIRouter(tags=["acknowledge"])

_HTML = {"text/html": {"schema": {"type": "string"}}}
_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "the database does not answer", "content": _PROBLEM}
}
_PAGES: dict[int | str, dict[str, Any]] = {
    **{
        code: {"description": text, "content": _HTML}
        for code, text in (
            (200, "the page"),
            (403, "a link not signed by this site, altered, or expired"),
            (404, "none of its alerts fires any more"),
            (409, "the link was used already"),
            (422, "no name given"),
        )
    },
    **_UNAVAILABLE,
}
_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["t", "by"],
                    "properties": {"t": {"type": "string"}, "by": {"type": "string", "minLength": 1, "maxLength": 100}},
                }
            }
        },
    }
}

_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>确认告警</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 2em auto">{body}</body></html>"""


def _page(status: int, body: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(body=body), status_code=status, headers={"Cache-Control": "no-store"})


def _claim(ctx: Context, token: str) -> AckClaim:
    secret = ctx.settings.ack_secret
    if secret is None:
        raise AckLinkError("acknowledge links are not enabled on this site (QSMON_ACK_SECRET)")
    return verify(secret.get_secret_value(), token, clock.now())


@router.get(
    "/v1/ack",
    response_class=HTMLResponse,
    summary="What a signed acknowledge link acknowledges",
    responses={k: v for k, v in _PAGES.items() if k in (200, 403, 503)},
)
async def ack_page(request: Request, ctx: Annotated[Context, Depends(context)], t: str = "") -> HTMLResponse:
    try:
        claim = _claim(ctx, t)
    except AckLinkError as exc:
        return _page(403, f"<h3>无法确认</h3><p>{escape(exc.message)}</p>")
    return _page(
        200,
        f"<h3>确认告警</h3><p>告警编号:{', '.join(map(str, claim.alert_ids))}</p>"
        f"<form method='post' action='{escape(str(request.url.path))}'>"
        f"<input type='hidden' name='t' value='{escape(t)}'>"
        "<label>确认人 <input name='by' required maxlength='100'></label> "
        "<button type='submit'>确认,我来处理</button></form>",
    )


@router.post(
    "/v1/ack",
    response_class=HTMLResponse,
    summary="Acknowledge with a signed link, once",
    responses=_PAGES,
    openapi_extra=_FORM,
)
async def ack_with_link(request: Request, ctx: Annotated[Context, Depends(context)]) -> HTMLResponse:
    form = parse_qs((await request.body()).decode(errors="replace"))
    token, by = (form.get("t") or [""])[0], (form.get("by") or [""])[0].strip()
    if not by or len(by) > 100 or not by.isprintable():
        return _page(422, "<h3>无法确认</h3><p>请填写确认人(1至100个字)。</p>")
    try:
        claim = _claim(ctx, token)
        done = await anyio.to_thread.run_sync(_redeem, ctx, claim, by)
    except AckLinkUsedError:
        return _page(409, "<h3>无法确认</h3><p>此确认链接已使用过。</p>")
    except (AckLinkError, NothingToAcknowledgeError) as exc:
        return _page(403 if isinstance(exc, AckLinkError) else 404, f"<h3>无法确认</h3><p>{escape(exc.message)}</p>")
    return _page(
        200,
        f"<h3>已确认</h3><p>{escape(by)} 已确认告警 {', '.join(map(str, done)) or '(此前已确认)'}"
        ";告警状态或级别变化前不再提醒。</p>",
    )


def _redeem(ctx: Context, claim: AckClaim, by: str) -> list[int]:
    with ctx.pool.connection() as conn, conn.transaction():
        return redeem(conn, claim, by, clock.now())


class AckBody(BaseModel):
    by: str | None = Field(
        default=None, min_length=1, max_length=100, description="who acknowledges (default: the token's name)"
    )


@router.post(
    "/v1/alerts/{alert_id}/ack",
    summary="Acknowledge a firing alert (scope ack)",
    responses={
        200: {"description": "acknowledged (acknowledged_now false: it was already)"},
        400: {
            "description": "a body that is not JSON",
            "content": {"application/json": {"schema": {"type": "object"}}, **_PROBLEM},
        },
        **{
            code: {"description": text, "content": _PROBLEM}
            for code, text in (
                (401, "no valid bearer token"),
                (403, "the token's scopes do not allow it"),
                (404, "no firing alert"),
                (422, "a parameter is invalid"),
                (429, "the token's requests a minute are spent"),
            )
        },
        **_UNAVAILABLE,
    },
)
async def ack_alert(
    alert_id: Annotated[int, FastPath(ge=1, le=2**63 - 1)],
    ctx: Annotated[Context, Depends(context)],
    token: Annotated[Token, Depends(require(Scope.ACK))],
    body: AckBody | None = None,
) -> JSONResponse:
    by = (body.by.strip() if body and body.by else "") or token.name
    if not by.isprintable():  # PostgreSQL refuses a NUL: a 422, not a 500
        raise HTTPException(422, "by: a name without control characters")

    def run() -> list[int]:
        with ctx.pool.connection() as conn, conn.transaction():
            return acknowledge(conn, [alert_id], by, clock.now(), via=f"api:{token.name}")

    try:
        done: list[Any] = await anyio.to_thread.run_sync(run)
    except NothingToAcknowledgeError:
        raise HTTPException(404, f"no firing alert #{alert_id}") from None
    return JSONResponse({"alert_id": alert_id, "acknowledged_by": by, "acknowledged_now": bool(done)})
