"""The six dashboards, built with grafana-foundation-sdk and written as JSON for provisioning.

`qsmon dashboards build` writes dashboards/json/*.json; `qsmon dashboards check` fails when they are stale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import queries as q
from dashboards.forecast import FORECAST
from indicators.labels import STANDARD_WINDOWS, label, window_label
from qsmon.vocab import Category

JSON_DIR = Path(__file__).resolve().parent / "json"
TSDB = dm.DataSourceRef(type_val="grafana-postgresql-datasource", uid="qsmon-tsdb")
PROM = dm.DataSourceRef(type_val="prometheus", uid="qsmon-prom")
# Grafana's custom variables: "text : value" pairs, from the one label table.
WINDOWS = ",".join(f"{window_label(w)} : {w}" for w in STANDARD_WINDOWS)
CATEGORIES = ",".join(["全部 : all", *(f"{label(c)} : {c.value}" for c in Category)])


class SqlQuery(cogvariants.Dataquery):
    """A raw SQL target of Grafana's PostgreSQL datasource (the SDK ships no builder for it)."""

    def __init__(self, raw_sql: str, fmt: str, ref_id: str) -> None:
        self.raw_sql, self.format, self.ref_id = raw_sql.strip(), fmt, ref_id

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": {"type": TSDB.type_val, "uid": TSDB.uid},
            "rawSql": self.raw_sql,
            "format": self.format,
            "editorMode": "code",
            "rawQuery": True,
        }


class Sql(cogbuilder.Builder[SqlQuery]):
    def __init__(self, raw_sql: str, fmt: str = "table", ref_id: str = "A") -> None:
        self._query = SqlQuery(raw_sql, fmt, ref_id)

    def build(self) -> SqlQuery:
        return self._query


def _variable(name: str, label: str, sql: str) -> db.QueryVariable:
    return db.QueryVariable(name).label(label).datasource(TSDB).query(sql).refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)


def plan_variables(*, indicator: bool = True, window: bool = False, category: bool = False) -> list[Any]:
    variables: list[Any] = [
        _variable(
            "plan", "规划", "SELECT DISTINCT plan_id AS __value, plan_title AS __text FROM plan_indicators ORDER BY 1"
        ),
        _variable(
            "region",
            "地区",
            "SELECT code AS __value, name AS __text FROM regions WHERE code = (SELECT"
            " jurisdiction FROM plan_indicators WHERE plan_id = '$plan' LIMIT 1) OR parent ="
            " (SELECT jurisdiction FROM plan_indicators WHERE plan_id = '$plan' LIMIT 1)"
            " ORDER BY length(regexp_replace(code, '0+$', '')), code",
        ),
    ]
    if indicator:
        variables.append(
            _variable(
                "indicator",
                "指标",
                "SELECT indicator_id AS __value, name AS __text FROM"
                " plan_indicators WHERE plan_id = '$plan' ORDER BY position",
            )
        )
    if window:
        variables.append(db.CustomVariable("window").label("统计窗口").values(WINDOWS))
    if category:
        variables.append(db.CustomVariable("category").label("类别").values(CATEGORIES))
    return variables


def _dashboard(uid: str, title: str, variables: list[Any], panels: list[Any], time_from: str = "now-30d") -> Any:
    board = (
        db.Dashboard(title).uid(uid).tags(["qsmon"]).timezone(q.ZONE).time(time_from, "now").refresh("1m").editable()
    )
    for variable in variables:
        board = board.with_variable(variable)
    for panel in panels:
        board = board.with_panel(panel)
    for link_uid, link_title in LINKS:
        if link_uid != uid:
            board = board.link(
                db.DashboardLink(link_title)
                .type(dm.DashboardLinkType.LINK)
                .url(f"/d/{link_uid}")
                .include_vars(True)
                .keep_time(True)
            )
    return board


def _table(title: str, sql: str, w: int = 24, h: int = 9) -> Any:
    return table.Panel().title(title).datasource(TSDB).with_target(Sql(sql)).span(w).height(h)


def _stat(title: str, sql: str, w: int = 6, h: int = 5) -> Any:
    return stat.Panel().title(title).datasource(TSDB).with_target(Sql(sql)).span(w).height(h)


def _series(title: str, sql: str, unit: str = "percent", w: int = 24, h: int = 10) -> Any:
    return (
        timeseries.Panel()
        .title(title)
        .datasource(TSDB)
        .with_target(Sql(sql, fmt="time_series"))
        .unit(unit)
        .span_nulls(False)
        .span(w)
        .height(h)
    )


def _prom(title: str, expr: str, unit: str, legend: str) -> Any:
    return (
        timeseries.Panel()
        .title(title)
        .datasource(PROM)
        .unit(unit)
        .span(12)
        .height(8)
        .with_target(prometheus.Dataquery().expr(expr).legend_format(legend))
    )


def overview() -> Any:
    return _dashboard(
        "qsmon-overview",
        "总览 · 质量指标",
        plan_variables(indicator=False, window=True),
        [
            _table("规划状态", q.OVERVIEW_PLAN, h=4),
            _table("指标完成情况(当前值、目标、状态、样本、95%置信区间)", q.OVERVIEW_TILES, w=18, h=12),
            _stat("告警中", q.OVERVIEW_FIRING_COUNT),
            _table("本年累计与去年同期", q.OVERVIEW_YEAR_ON_YEAR, w=12),
            _table("正在告警", q.OVERVIEW_FIRING, w=12),
            _table("达标预测(本年需达、预计年底与80%区间、达标概率)", FORECAST, h=8),
            _table("已关账月份:上报值与现值(上报后更正)", q.OVERVIEW_REPORTED_MONTHS, h=8),
        ],
    )


def trends() -> Any:
    return _dashboard(
        "qsmon-trends",
        "趋势 · 合格率随时间",
        plan_variables(),
        [
            _series("$indicator:值、目标与95%置信区间(按日/周/月)", q.TREND),
        ],
        time_from="now-1y",
    )


def regions() -> Any:
    return _dashboard(
        "qsmon-regions",
        "地区 · 分地区完成情况",
        plan_variables(),
        [
            _table("各县(市、区)按差距排序", q.REGIONS, h=12),
        ],
    )


def failures() -> Any:
    return _dashboard(
        "qsmon-failures",
        "不合格分析",
        plan_variables(indicator=False, category=True),
        [
            _table("主要不合格项目(帕累托)", q.FAILED_ITEMS, w=12),
            _table("不合格细类", q.FAILED_SUBCATEGORIES, w=12),
            _table("问题类型(按项次)", q.FAILED_PROBLEM_TYPES, w=12),
            _table("分抽检环节(不含风险监测)", q.FAILED_BY_STAGE, w=12),
            _table("分抽检类型(风险监测为问题发现率)", q.FAILED_BY_SAMPLING_TYPE, w=12),
            _table("多次不合格的企业/单位", q.REPEAT_OFFENDERS, w=12),
            _table("最新不合格样品", q.LATEST_FAILURES, w=24, h=12),
        ],
    )


def alerts() -> Any:
    return _dashboard(
        "qsmon-alerts",
        "告警 · 时间线与历史",
        plan_variables(indicator=False),
        [
            _series("每日开启与解决", q.ALERTS_OPENED, unit="short"),
            _table("告警历史", q.ALERT_HISTORY, h=12),
            _table("正在告警 · 确认情况", q.ALERTS_ACKNOWLEDGED, w=12),
            _table("解决时长", q.TIME_TO_RESOLVE, w=12),
        ],
    )


def pipeline() -> Any:
    return _dashboard(
        "qsmon-pipeline",
        "运行状况 · 数据管道",
        [],
        [
            _prom("处理速率(条/秒)", q.PROM_THROUGHPUT, "reqps", "{{verdict}}"),
            _prom("消费滞后(条)", q.PROM_LAG, "short", "滞后"),
            _prom("偏移量被拒的分区", q.PROM_REFUSED, "short", "分区 {{partition}}"),
            _prom("最早未送达通知(秒)", q.PROM_OUTBOX_AGE, "s", "未送达"),
            _prom("无效记录速率(按原因)", q.PROM_INVALID, "reqps", "{{reason}}"),
            _prom("批处理时延 p99", q.PROM_BATCH_P99, "s", "p99"),
            _prom("通知失败(15分钟)", q.PROM_NOTIFY_FAILURES, "short", "{{channel}}"),
        ],
        time_from="now-6h",
    )


def cases() -> Any:
    return _dashboard(
        "qsmon-cases",
        "核查处置 · 不合格样品跟踪",
        plan_variables(indicator=False),
        [
            _table("概况(截至所选区间末日)", q.CASES_TILES, w=24, h=5),
            _table("即将到期与已超期(最早到期在前)", q.CASES_OLDEST, h=12),
            _table("各县(市、区)分步骤", q.CASES_BY_COUNTY, w=12),
            _table("办结用时", q.CASES_TIME_TO_CLOSE, w=12),
        ],
        time_from="now-90d",
    )


LINKS = [
    ("qsmon-overview", "总览"),
    ("qsmon-trends", "趋势"),
    ("qsmon-regions", "地区"),
    ("qsmon-failures", "不合格分析"),
    ("qsmon-cases", "核查处置"),
    ("qsmon-alerts", "告警"),
    ("qsmon-pipeline", "运行状况"),
]
BUILDERS: dict[str, Callable[[], Any]] = {
    "overview": overview,
    "trends": trends,
    "regions": regions,
    "failures": failures,
    "cases": cases,
    "alerts": alerts,
    "pipeline": pipeline,
}


def render() -> dict[str, str]:
    """Every dashboard's JSON by file name; deterministic (sorted keys) so the committed files can be checked."""
    return {
        f"{name}.json": json.dumps(build().build(), cls=JSONEncoder, ensure_ascii=False, indent=2, sort_keys=True)
        + "\n"
        for name, build in BUILDERS.items()
    }


def write(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render().items():
        (directory / name).write_text(text, encoding="utf-8")
        paths.append(directory / name)
    return paths


def stale(directory: Path = JSON_DIR) -> list[str]:
    """Files whose committed JSON differs from what the code builds (missing files count)."""
    return [
        name
        for name, text in render().items()
        if not (directory / name).exists() or (directory / name).read_text(encoding="utf-8") != text
    ]
