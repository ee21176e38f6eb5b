"""The read API's routes (issue #18): plans, evaluations (current and monthly series), rates, alerts, failures and
cases, each as JSON, CSV or xlsx. Scopes: public reads aggregates and published failures; read everything."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from indicators.labels import label
from qsmon.publication import SUPPRESSED_NOTE, rate_suppressed
from qsmon.tokens import Scope, Token
from qsmon.vocab import Category, SamplingType, Stage
from readapi import queries
from readapi.context import (
    MAX_DAYS_BY_GROUP,
    MAX_OFFSET,
    MAX_PAGE,
    MAX_SERIES_DAYS,
    WINDOW_PATTERN,
    Context,
    context,
    paged,
    period,
    require,
)
from readapi.formats import CSV_TYPE, JSON_TYPE, XLSX_TYPE, Column, chosen_format, render_async
from readapi.pagination import decode

Format = Literal["json", "csv", "xlsx"]
# Free-text parameters carry no control characters: PostgreSQL refuses a NUL, which must be a 422, not a 500.
PLAIN = r"^[^\x00-\x1f\x7f]*$"
_PROBLEM = {
    "application/problem+json": {
        "schema": {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {},
            },
        }
    }
}
Problems: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the list, as JSON (default), CSV (UTF-8 with BOM, Chinese headers) or xlsx",
        "content": {
            JSON_TYPE: {},
            CSV_TYPE: {"schema": {"type": "string"}},
            XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    },
    304: {"description": "unchanged since the ETag given in If-None-Match"},
    **{
        code: {"description": text, "content": _PROBLEM}
        for code, text in (
            (400, "a cursor this API did not hand out"),
            (401, "no valid bearer token"),
            (403, "the token's scopes do not allow it"),
            (404, "no such plan or indicator"),
            (422, "a parameter is invalid: unknown region, inverted period, page past the maximum"),
            (429, "the token's requests a minute are spent; see Retry-After"),
        )
    },
}
FORMAT_QUERY = Query(alias="format", description="json (default), csv or xlsx; or use the Accept header")

# The published columns (reports.published.PUBLISHED_COLUMNS) and the keys the failures rows carry.
PUBLISHED_FIELDS: tuple[tuple[str, str], ...] = (
    ("标称生产企业名称", "manufacturer"),
    ("标称生产企业地址", "manufacturer_address"),
    ("被抽样单位名称", "sampled_unit"),
    ("被抽样单位地址", "sampled_unit_address"),
    ("食品名称", "product"),
    ("规格型号", "spec"),
    ("商标", "brand"),
    ("生产日期/批号", "batch"),
    ("不合格项目║检验结果║标准值", "failed_items"),
    ("分类", "subcategory"),
    ("公告号", "announcement_no"),
    ("公告日期", "announcement_date"),
    ("任务来源", "task_source"),
    ("检验机构", "lab"),
    ("备注", "remark"),
)

router = APIRouter()


@router.get(
    "/v1/plans",
    summary="Plans with their indicators, targets, windows and whether each is in force",
    responses=Problems,
    tags=["figures"],
)
async def get_plans(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    _: Annotated[Token, Depends(require(Scope.PUBLIC))],
    fmt: Annotated[Format | None, FORMAT_QUERY] = None,
) -> Response:
    items = [
        {
            "id": p.id,
            "title": p.title,
            "jurisdiction": p.jurisdiction.region_code,
            "period_start": p.period.start,
            "period_end": p.period.end,
            "in_force_until": p.in_force_until,
            "status": p.status(ctx.today()).value,
            "status_label": label(p.status(ctx.today())),
            "counting_date": p.counting_date.value,
            "indicators": [
                {
                    "id": i.id,
                    "name": i.name,
                    "measure": i.measure.value,
                    "op": i.target.op.value,
                    "target": i.target.value,
                    "windows": list(i.windows),
                    "place": i.place.value,
                }
                for i in p.indicators
            ],
        }
        for p in sorted(ctx.plans.values(), key=lambda p: p.id)
    ]
    columns = [
        Column("id", "规划"),
        Column("title", "名称"),
        Column("jurisdiction", "地区代码"),
        Column("period_start", "规划期起"),
        Column("period_end", "规划期止"),
        Column("in_force_until", "延续执行至"),
        Column("status_label", "状态"),
    ]
    return await render_async(request, {"items": items}, items, columns, title="规划", fmt=chosen_format(request, fmt))


@router.get(
    "/v1/evaluations",
    summary="Current indicator evaluations: value, 95 % interval, samples, state",
    responses=Problems,
    tags=["figures"],
)
async def get_evaluations(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    token: Annotated[Token, Depends(require(Scope.PUBLIC))],
    plan: Annotated[str, Query(min_length=1, max_length=64, pattern=PLAIN, examples=["jingzhou-2023"])],
    indicator: Annotated[str | None, Query(max_length=64, pattern=PLAIN)] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$", examples=["421000"])] = None,
    window: Annotated[str | None, Query(pattern=WINDOW_PATTERN, examples=["rolling_30d"])] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
    fmt: Annotated[Format | None, FORMAT_QUERY] = None,
) -> Response:
    chosen = ctx.plan_of(plan)
    if indicator is not None:
        ctx.indicator_of(chosen, indicator)
    hidden = [] if token.allows(Scope.READ) else ctx.non_public_indicators(chosen)
    after = decode(cursor, (str, str, str, str, str))
    code = ctx.region_of(region) if region else None
    items = await anyio.to_thread.run_sync(
        lambda: ctx.run(lambda c: queries.evaluations(c, plan, indicator, code, window, after, limit, hidden))
    )
    payload, headers = paged(request, items, limit, lambda i: [i[k] for k in queries.EVALUATION_KEYS])
    columns = [
        Column("indicator_id", "指标"),
        Column("region_name", "地区"),
        Column("window", "窗口"),
        Column("value", "当前值"),
        Column("low", "下限"),
        Column("high", "上限"),
        Column("samples", "样本"),
        Column("failed", "不合格"),
        Column("target", "目标"),
        Column("state", "状态"),
        Column("first_day", "起"),
        Column("last_day", "止"),
    ]
    return await render_async(
        request, payload, items, columns, title="指标评价", fmt=chosen_format(request, fmt), headers=headers
    )


@router.get(
    "/v1/evaluations/series",
    summary="An indicator month by month, as the monthly report computes it",
    responses=Problems,
    tags=["figures"],
)
async def get_series(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    token: Annotated[Token, Depends(require(Scope.PUBLIC))],
    plan: Annotated[str, Query(min_length=1, max_length=64, pattern=PLAIN, examples=["jingzhou-2023"])],
    indicator: Annotated[str, Query(min_length=1, max_length=64, pattern=PLAIN, examples=["food-evaluative-pass"])],
    first: Annotated[date, Query(alias="from", examples=["2026-01-01"])],
    last: Annotated[date, Query(alias="to", examples=["2026-11-30"])],
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    fmt: Annotated[Format | None, FORMAT_QUERY] = None,
) -> Response:
    chosen = ctx.plan_of(plan)
    ctx.indicator_of(chosen, indicator)
    if not token.allows(Scope.READ) and indicator in ctx.non_public_indicators(chosen):
        raise HTTPException(403, "this indicator counts risk monitoring, which is not public: a read token is needed")
    first, last = period(first, last, max_days=MAX_SERIES_DAYS)
    code = ctx.scope_of(chosen, region)
    items = await anyio.to_thread.run_sync(
        lambda: ctx.run(
            lambda c: queries.evaluation_series(c, chosen, indicator, code, first, last, timezone=ctx.settings.timezone)
        )
    )
    columns = [
        Column("month", "月份"),
        Column("value", "值"),
        Column("low", "下限"),
        Column("high", "上限"),
        Column("samples", "样本"),
        Column("failed", "不合格"),
    ]
    return await render_async(
        request, {"items": items}, items, columns, title="指标月度序列", fmt=chosen_format(request, fmt)
    )


@router.get(
    "/v1/rates",
    summary="Pass and failure rates from the rollups, filtered and grouped",
    responses=Problems,
    tags=["figures"],
)
async def get_rates(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    token: Annotated[Token, Depends(require(Scope.PUBLIC))],
    first: Annotated[date, Query(alias="from", examples=["2026-10-01"])],
    last: Annotated[date, Query(alias="to", examples=["2026-10-31"])],
    group_by: Annotated[Literal["day", "week", "month", "region", "subcategory"], Query()] = "month",
    region: Annotated[
        str | None,
        Query(
            pattern=r"^\d{6}$",
            examples=["421000"],
            description="a city includes its counties; required to group by region",
        ),
    ] = None,
    category: Annotated[Category | None, Query(examples=["food"])] = None,
    subcategory: Annotated[str | None, Query(max_length=64, pattern=PLAIN)] = None,
    sampling_type: Annotated[
        SamplingType | None,
        Query(description="risk_monitoring and survey count only when named; risk monitoring needs the read scope"),
    ] = None,
    stage: Annotated[Stage | None, Query()] = None,
    fmt: Annotated[Format | None, FORMAT_QUERY] = None,
) -> Response:
    first, last = period(first, last, max_days=MAX_DAYS_BY_GROUP.get(group_by))
    if group_by == "region" and region is None:
        raise HTTPException(422, "group_by=region needs a region: its counties (or cities) are the groups")
    if sampling_type is SamplingType.RISK_MONITORING and not token.allows(Scope.READ):
        raise HTTPException(403, "risk monitoring's problem samples are not public: a read token is needed")
    query = queries.RateQuery(
        first,
        last,
        ctx.region_of(region),
        group_by,
        category.value if category else None,
        subcategory,
        sampling_type.value if sampling_type else None,
        stage.value if stage else None,
    )
    items = await anyio.to_thread.run_sync(lambda: ctx.run(lambda c: queries.rates(c, query)))
    public_only = not token.allows(Scope.READ)
    minimum = ctx.settings.api_public_min_batches
    suppressed = suppress_small_cells(items, minimum) if public_only else 0
    columns = [
        Column("key", {"region": "地区代码", "subcategory": "细类"}.get(group_by, "日期")),
        *([Column("region_name", "地区")] if group_by == "region" else []),
        Column("tested", "批次"),
        Column("passed", "合格"),
        Column("failed", "不合格"),
        Column("pass_rate", "合格率"),
        Column("fail_rate", "不合格率"),
        *([Column("note", "说明")] if public_only else []),
    ]
    payload: dict[str, Any] = {"items": items}
    if public_only:  # saying so: a reader must not take a suppressed cell for no samples
        payload |= {"suppressed": suppressed, "min_batches": minimum}
    return await render_async(request, payload, items, columns, title="合格率", fmt=chosen_format(request, fmt))


def suppress_small_cells(items: list[dict[str, Any]], min_batches: int) -> int:
    """Blank the counts and rates of cells over fewer than ``min_batches`` batches, noting why (qsmon.publication);
    how many were blanked."""
    count = 0
    for item in items:
        item["note"] = None
        if rate_suppressed(item["tested"], min_batches):
            count += 1
            item.update(
                tested=None,
                passed=None,
                failed=None,
                pass_rate=None,
                fail_rate=None,
                suppressed=True,
                note=SUPPRESSED_NOTE.format(n=min_batches),
            )
    return count


@router.get(
    "/v1/alerts", summary="Alerts, latest first (firing, resolved or all)", responses=Problems, tags=["operations"]
)
async def get_alerts(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    _: Annotated[Token, Depends(require(Scope.READ))],
    plan: Annotated[str | None, Query(max_length=64, pattern=PLAIN)] = None,
    alert_status: Annotated[Literal["firing", "resolved"] | None, Query(alias="status")] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
    fmt: Annotated[Format | None, FORMAT_QUERY] = None,
) -> Response:
    after = decode(cursor, (int,))
    if plan is not None:
        ctx.plan_of(plan)
    code = ctx.region_of(region)
    items = await anyio.to_thread.run_sync(
        lambda: ctx.run(lambda c: queries.alerts(c, plan, alert_status, code, int(after[0]) if after else None, limit))
    )
    payload, headers = paged(request, items, limit, lambda i: [i["id"]])
    columns = [
        Column("id", "编号"),
        Column("indicator_id", "指标"),
        Column("region_name", "地区"),
        Column("window", "窗口"),
        Column("status", "状态"),
        Column("severity", "级别"),
        Column("value", "值"),
        Column("target", "目标"),
        Column("opened_at", "开启时间"),
        Column("resolved_at", "解决时间"),
    ]
    return await render_async(
        request, payload, items, columns, title="告警", fmt=chosen_format(request, fmt), headers=headers
    )


@router.get(
    "/v1/failures",
    summary="Failed samples, latest first: the published columns (public) or all (read)",
    responses=Problems,
    tags=["figures"],
)
async def get_failures(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    token: Annotated[Token, Depends(require(Scope.PUBLIC))],
    first: Annotated[date, Query(alias="from", examples=["2026-10-01"])],
    last: Annotated[date, Query(alias="to", examples=["2026-10-31"])],
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    category: Annotated[Category | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
    fmt: Annotated[Format | None, FORMAT_QUERY] = None,
) -> Response:
    first, last = period(first, last)
    code = ctx.region_of(region)
    public_only = not token.allows(Scope.READ)
    # A public token's cursor carries a position only: a sort key would show it the sample ids.
    after = decode(cursor, (int,) if public_only else (date, str))
    offset = int(after[0]) if public_only and after else 0
    if offset > MAX_OFFSET:
        raise HTTPException(400, f"the cursor is past the {MAX_OFFSET:,}th row: narrow the period or the region")
    items = await anyio.to_thread.run_sync(
        lambda: ctx.run(
            lambda c: queries.failures(
                c,
                first,
                last,
                code,
                category.value if category else None,
                None if public_only else after,
                limit,
                published_only=public_only,
                offset=offset,
                today=ctx.today(),
            )
        )
    )
    payload, headers = paged(
        request, items, limit, (lambda _: [offset + limit]) if public_only else (lambda i: [i["day"], i["sample_id"]])
    )
    columns = [Column(key, header) for header, key in PUBLISHED_FIELDS if header in ctx.published or not public_only]
    if public_only:  # the published columns, and nothing a public token should not see
        items = [{c.key: i[c.key] for c in columns} for i in items]
        payload = {"items": items, "next_cursor": payload["next_cursor"]}
    else:
        columns = [Column("sample_id", "抽样编号"), Column("day", "抽样日期"), Column("region_name", "地区"), *columns]
    return await render_async(
        request, payload, items, columns, title="不合格产品信息", fmt=chosen_format(request, fmt), headers=headers
    )


@router.get(
    "/v1/cases", summary="Follow-up cases of failed samples (核查处置)", responses=Problems, tags=["operations"]
)
async def get_cases(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    _: Annotated[Token, Depends(require(Scope.READ))],
    case_status: Annotated[Literal["open", "closed", "overturned"] | None, Query(alias="status")] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
    fmt: Annotated[Format | None, FORMAT_QUERY] = None,
) -> Response:
    after = decode(cursor, (int,))
    code = ctx.region_of(region)
    items = await anyio.to_thread.run_sync(
        lambda: ctx.run(lambda c: queries.cases(c, case_status, code, int(after[0]) if after else None, limit))
    )
    payload, headers = paged(request, items, limit, lambda i: [i["id"]])
    columns = [
        Column("id", "编号"),
        Column("sample_id", "抽样编号"),
        Column("region_name", "地区"),
        Column("product", "样品"),
        Column("firm", "企业/单位"),
        Column("opened_on", "立案日"),
        Column("status", "状态"),
        Column("next_due", "最近期限"),
    ]
    return await render_async(
        request, payload, items, columns, title="核查处置", fmt=chosen_format(request, fmt), headers=headers
    )


@router.get(
    "/v1/months",
    summary="Closed months' frozen figures, as reported upward, and corrections since"
    " (上报后更正): what a federating instance pulls",
    responses=Problems,
    tags=["figures"],
)
async def get_months(
    ctx: Annotated[Context, Depends(context)],
    token: Annotated[Token, Depends(require(Scope.PUBLIC))],
    since: Annotated[
        date | None,
        Query(examples=["2026-01-01"], description="months from this one (default: a year back; at most three)"),
    ] = None,
) -> dict[str, Any]:
    today = ctx.today()
    first = since.replace(day=1) if since else today.replace(day=1, year=today.year - 1)
    period(first, today, max_days=MAX_SERIES_DAYS)
    hidden = (
        set()
        if token.allows(Scope.READ)
        else {(p.id, i) for p in ctx.plans.values() for i in ctx.non_public_indicators(p)}
    )
    items = await anyio.to_thread.run_sync(
        lambda: ctx.run(lambda c: queries.closed_months(c, ctx.plans, first, hidden, timezone=ctx.settings.timezone))
    )
    return {"items": items}


@router.get("/healthz", summary="Liveness", tags=["operations"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


MONTH_PATTERN = r"^(20\d\d|2100)-(0[1-9]|1[0-2])$"


@router.get(
    "/v1/completeness",
    summary="数据完整性: whether each month's data is complete, with its last day",
    responses=Problems,
    tags=["figures"],
)
async def get_completeness(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    token: Annotated[Token, Depends(require(Scope.PUBLIC))],
    first: Annotated[str, Query(alias="from", pattern=MONTH_PATTERN, examples=["2020-01"])],
    last: Annotated[str, Query(alias="to", pattern=MONTH_PATTERN, examples=["2020-12"])],
    region: Annotated[str | None, Query(pattern=r"^\d{6}$", examples=["330000"])] = None,
    category: Annotated[Category | None, Query(examples=["food"])] = None,
    fmt: Annotated[Format | None, FORMAT_QUERY] = None,
) -> Response:
    """A month is incomplete while in progress, without data after months with it, when its data ends 7 or more days
    early, or below half its usual volume (qsmon.completeness); ``note`` says so in the words a report uses. Batch
    counts (tested, usual) are for read tokens: a small county's counts would single out firms."""
    from qsmon.completeness import month_completeness

    months = [date(int(first[:4]), int(first[5:]), 1)]
    while months[-1] < date(int(last[:4]), int(last[5:]), 1) and len(months) <= 24:
        months.append((months[-1] + timedelta(days=32)).replace(day=1))
    if months[0] > date(int(last[:4]), int(last[5:]), 1) or len(months) > 24:
        raise HTTPException(422, "from must not be after to, and at most 24 months")
    code, today = ctx.region_of(region), ctx.today()
    found = await anyio.to_thread.run_sync(
        lambda: ctx.run(
            lambda c: [month_completeness(c, code, m, today, category.value if category else None) for m in months]
        )
    )
    counts = token.allows(Scope.READ)
    items = [
        {
            "month": m.month.strftime("%Y-%m"),
            "last_day": m.last_day,
            "incomplete": m.incomplete,
            "reasons": list(m.reasons),
            "note": m.note(counts=counts),
            **({"tested": m.tested, "usual": m.usual} if counts else {}),
        }
        for m in found
    ]
    columns = [
        Column("month", "月份"),
        *([Column("tested", "批次")] if counts else []),
        Column("last_day", "最后有数据日"),
        *([Column("usual", "往月通常批次")] if counts else []),
        Column("incomplete", "数据不完整"),
        Column("note", "数据完整性"),
    ]
    return await render_async(
        request, {"items": items}, items, columns, title="数据完整性", fmt=chosen_format(request, fmt)
    )


@router.get(
    "/readyz", summary="Readiness: the database answers (503 problem+json when it does not)", tags=["operations"]
)
async def readyz(ctx: Annotated[Context, Depends(context)]) -> dict[str, str]:
    await anyio.to_thread.run_sync(lambda: ctx.run(lambda c: c.execute("SELECT 1").fetchone()))
    return {"status": "ready"}
