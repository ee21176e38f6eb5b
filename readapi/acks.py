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
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from alerts.acks import AckClaim, acknowledge, redeem, verify
from alerts.exceptions import AckLinkError, AckLinkUsedError, NothingToAcknowledgeError
from qsmon import clock
from qsmon.tokens import Scope, Token
from readapi.context import Context, context, require

router = APIRouter(tags=["acknowledge"])

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


@router.get("/v1/ack", response_class=HTMLResponse, summary="What a signed acknowledge link acknowledges")
async def ack_page(request: Request, ctx: Annotated[Context, Depends(context)], t: str = "") -> HTMLResponse:
    try:
        claim = _claim(ctx, t)
    except AckLinkError as exc:
        return _page(403, f"<h3>无法确认</h3><p>{escape(exc.message)}</p>")
    return _page(200, f"<h3>确认告警</h3><p>告警编号:{', '.join(map(str, claim.alert_ids))}</p>"
                      f"<form method='post' action='{escape(str(request.url.path))}'>"
                      f"<input type='hidden' name='t' value='{escape(t)}'>"
                      "<label>确认人 <input name='by' required maxlength='100'></label> "
                      "<button type='submit'>确认,我来处理</button></form>")


@router.post("/v1/ack", response_class=HTMLResponse, summary="Acknowledge with a signed link, once")
async def ack_with_link(request: Request, ctx: Annotated[Context, Depends(context)]) -> HTMLResponse:
    form = parse_qs((await request.body()).decode(errors="replace"))
    token, by = (form.get("t") or [""])[0], (form.get("by") or [""])[0].strip()
    if not by or len(by) > 100:
        return _page(422, "<h3>无法确认</h3><p>请填写确认人(1至100个字)。</p>")
    try:
        claim = _claim(ctx, token)
        done = await anyio.to_thread.run_sync(_redeem, ctx, claim, by)
    except AckLinkUsedError:
        return _page(409, "<h3>无法确认</h3><p>此确认链接已使用过。</p>")
    except (AckLinkError, NothingToAcknowledgeError) as exc:
        return _page(403 if isinstance(exc, AckLinkError) else 404, f"<h3>无法确认</h3><p>{escape(exc.message)}</p>")
    return _page(200, f"<h3>已确认</h3><p>{escape(by)} 已确认告警 {', '.join(map(str, done)) or '(此前已确认)'}"
                      ";告警状态或级别变化前不再提醒。</p>")


def _redeem(ctx: Context, claim: AckClaim, by: str) -> list[int]:
    with ctx.pool.connection() as conn, conn.transaction():
        return redeem(conn, claim, by, clock.now())


class AckBody(BaseModel):
    by: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$",
                           description="who acknowledges (default: the token's name)")


@router.post("/v1/alerts/{alert_id}/ack", summary="Acknowledge a firing alert (scope ack)")
async def ack_alert(alert_id: int, ctx: Annotated[Context, Depends(context)],
                    token: Annotated[Token, Depends(require(Scope.ACK))], body: AckBody | None = None
                    ) -> JSONResponse:
    by = (body.by if body and body.by else None) or token.name

    def run() -> list[int]:
        with ctx.pool.connection() as conn, conn.transaction():
            return acknowledge(conn, [alert_id], by, clock.now(), via=f"api:{token.name}")

    try:
        done: list[Any] = await anyio.to_thread.run_sync(run)
    except NothingToAcknowledgeError:
        raise HTTPException(404, f"no firing alert #{alert_id}") from None
    return JSONResponse({"alert_id": alert_id, "acknowledged_by": by, "acknowledged_now": bool(done)})
