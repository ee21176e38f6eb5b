"""``/v1/forecast``: will the plan year's target be met? (达标预测, indicators.pace)"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from indicators.pace import forecast_rows
from qsmon.tokens import Scope, Token
from readapi.context import Context, context, require
from readapi.formats import Column, chosen_format, render_async
from readapi.routes import FORMAT_QUERY, PLAIN, Format, Problems

router = APIRouter()

COLUMNS = (
    Column("indicator_name", "指标"),
    Column("region_name", "地区"),
    Column("subcategory", "细类"),
    Column("target", "目标"),
    Column("tested", "本年已检"),
    Column("failed", "不合格"),
    Column("so_far", "本年合格率"),
    Column("planned", "全年计划批次"),
    Column("planned_text", "计划量来源"),
    Column("budget_left", "剩余不合格额度"),
    Column("needed", "其余需达"),
    Column("projected", "预计年底"),
    Column("low", "区间下限"),
    Column("high", "区间上限"),
    Column("probability", "达标概率"),
    Column("outcome", "结论"),
)


@router.get(
    "/v1/forecast",
    summary="Will the year's target be met: budget, needed rate, projected year end with its"
    " 80 % interval and the probability of meeting the target, per indicator and scope",
    responses=Problems,
    tags=["figures"],
)
async def get_forecast(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    token: Annotated[Token, Depends(require(Scope.PUBLIC))],
    plan: Annotated[str, Query(min_length=1, max_length=64, pattern=PLAIN, examples=["jingzhou-2023"])],
    indicator: Annotated[str | None, Query(max_length=64, pattern=PLAIN, examples=["food-evaluative-pass"])] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$", examples=["421000"])] = None,
    fmt: Annotated[Format | None, FORMAT_QUERY] = None,
) -> Response:
    chosen = ctx.plan_of(plan)
    if indicator is not None:
        ctx.indicator_of(chosen, indicator)
    code = ctx.scope_of(chosen, region) if region else None
    hidden = set() if token.allows(Scope.READ) else set(ctx.non_public_indicators(chosen))
    today = ctx.today()

    def rows() -> list[dict[str, Any]]:
        found = ctx.run(
            lambda c: forecast_rows(
                c, chosen, today, timezone=ctx.settings.timezone, indicator_id=indicator, region=code
            )
        )
        return [r for r in found if r["indicator_id"] not in hidden]

    items = await anyio.to_thread.run_sync(rows)
    return await render_async(
        request,
        {"as_of": today.isoformat(), "items": items},
        items,
        list(COLUMNS),
        title="年度达标预测",
        fmt=chosen_format(request, fmt),
    )
