"""Every dashboard panel's query, expanded as Grafana does, executed against the real database and Prometheus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from alerts.engine import AlertEngine
from alerts.service import sync_reference_data
from cases.sweep import CaseSweep
from dashboards.build import JSON_DIR, render, stale
from dashboards.macros import expand
from notify.routing import ChannelsConfig
from producers.simulator import Simulator, SimulatorOptions
from qsmon import clock
from qsmon.case_rules import load_table
from qsmon.plans import presets
from qsmon.settings import Settings
from qsmon.storage import connect
from streams.records import SourceRecord, classify
from streams.store import ResultStore
from tests.workers import reader_dsn

pytestmark = pytest.mark.integration

NOW = clock.now().replace(microsecond=0)
SHANGHAI = ZoneInfo("Asia/Shanghai")
RANGES = {"30 days": (NOW - timedelta(days=30), NOW), "3 years": (NOW - timedelta(days=3 * 365), NOW)}
VARIABLES = {
    "plan": "jingzhou-2023",
    "indicator": "agricultural-routine-pass",
    "region": "421000",
    "window": "rolling_30d",
    "category": "all",
}


def local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def panels() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, text in render().items():
        for panel in json.loads(text)["panels"]:
            yield f"{name}:{panel['title']}", panel


@pytest.fixture(scope="module")
def loaded_dsn(stack: Settings) -> Iterator[str]:
    """A schema with three years of simulated 荆州市 results, evaluations and an alert; shared by the module."""
    from urllib.parse import quote

    from qsmon.storage import apply_migrations

    schema = f"dash_{NOW:%H%M%S}"
    with connect(stack.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    dsn = f"{stack.dsn}?options={quote(f'-c search_path={schema},public')}"
    with connect(dsn) as conn:
        apply_migrations(conn)
        sync_reference_data(conn, presets().values())
    today = NOW.date()
    events = list(
        Simulator(
            SimulatorOptions(
                seed=7,
                first_day=today - timedelta(days=3 * 365),
                last_day=today,
                duplicate_rate=0.02,
                correction_rate=0.01,
            )
        ).events(30_000)
    )
    store = ResultStore(dsn, group="dash", topic="dash")
    records = [SourceRecord(0, i, e.key, e.to_json()) for i, e in enumerate(events)]
    for start in range(0, len(records), 5000):
        batch = records[start : start + 5000]
        store.write(classify(batch, clock.now() + timedelta(days=1))[0], batch)
    store.close()
    settings = stack.model_copy(update={"database_url": type(stack.database_url)(dsn)})
    # The preset's period has ended: kept in force, as a bureau does until its next plan (and as the demo does).
    in_force = presets()["jingzhou-2023"].model_copy(update={"in_force_until": date(2099, 12, 31)})
    engine = AlertEngine(settings, {"jingzhou-2023": in_force}, ChannelsConfig())
    engine.sweep()
    engine.close()
    with connect(dsn) as conn:  # the cases came with their steps; the sweep only sends notices (none: no channel)
        sweep = CaseSweep(load_table(), [], soon_working_days=2, digest_hour=8, timezone=stack.timezone)
        sweep.run(conn, NOW, NOW.date(), 9)
    yield dsn
    with connect(stack.dsn, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


EXPECTED_COLUMNS = {
    "overview.json:规划状态": ["规划", "规划期起", "规划期止", "延续执行至", "状态"],
    "overview.json:指标完成情况(当前值、目标、状态、样本、95%置信区间)": [
        "指标",
        "窗口",
        "当前值",
        "目标",
        "状态",
        "样本",
        "不合格",
        "下限",
        "上限",
        "起",
        "止",
        "统计口径",
    ],
    "trends.json:$indicator:值、目标与95%置信区间(按日/周/月)": ["time", "值", "目标", "区间下限", "区间上限"],
    "regions.json:各县(市、区)按差距排序": ["地区", "代码", "样本", "当前值", "目标", "差距"],
    "overview.json:达标预测(本年需达、预计年底与80%区间、达标概率)": [
        "指标",
        "细类",
        "目标",
        "本年值",
        "本年已检",
        "全年计划量",
        "剩余不合格额度",
        "其余批次需达",
        "预计年底",
        "80%区间下限",
        "80%区间上限",
        "达标概率(%)",
        "结论",
        "截至",
    ],
    "failures.json:主要不合格项目(帕累托)": ["不合格项目", "批次"],
    "cases.json:即将到期与已超期(最早到期在前)": [
        "立案日",
        "抽样编号",
        "地区",
        "样品",
        "企业/单位",
        "步骤",
        "期限",
        "状态",
        "超期天数",
        "依据",
    ],
    "cases.json:各县(市、区)分步骤": ["地区", "步骤", "办理中", "即将到期", "已超期"],
}


class TestPanelQueries:
    @pytest.mark.parametrize("span", list(RANGES))
    def test_every_sql_panel_runs_as_grafanas_role_and_returns_its_columns(self, loaded_dsn: str, span: str) -> None:
        time_from, time_to = RANGES[span]
        checked = 0
        with connect(reader_dsn(loaded_dsn)) as conn:  # the datasource's read-only role: its grants suffice
            for title, panel in panels():
                for target in panel.get("targets", []):
                    if "rawSql" not in target:
                        continue
                    sql = expand(target["rawSql"], VARIABLES, time_from, time_to)
                    cursor = conn.execute(sql.encode())
                    columns = [c.name for c in cursor.description or []]
                    rows = cursor.fetchall()
                    checked += 1
                    if title in EXPECTED_COLUMNS:
                        assert columns == EXPECTED_COLUMNS[title], title
                        assert rows, f"{title} returned no rows for {span}"
        assert checked == 24  # 7 overview, 1 trend, 1 regions, 7 failures, 4 cases, 4 alerts

    @pytest.mark.parametrize(("span", "unit"), [("30 days", "day"), ("3 years", "month")])
    def test_trends_bucket_by_day_or_month_and_leave_gaps(self, loaded_dsn: str, span: str, unit: str) -> None:
        trend = next(p for t, p in panels() if t.startswith("trends.json"))
        time_from, time_to = RANGES[span]
        first, last = local_day(time_from), local_day(time_to)
        # The buckets the range touches: on 2026-11-30, 3 × 365 days back starts on a 1st and touches 36 months.
        buckets = (
            (last - first).days + 1 if unit == "day" else (last.year - first.year) * 12 + last.month - first.month + 1
        )
        with connect(loaded_dsn) as conn:
            rows = conn.execute(
                expand(trend["targets"][0]["rawSql"], VARIABLES, time_from, time_to).encode()
            ).fetchall()
        assert len(rows) in (buckets, buckets + 1)  # the first bucket may start before the range
        assert all(r[2] == 98.0 for r in rows)  # the target line on every bucket
        assert sum(r[1] is not None for r in rows) >= buckets - 2  # 30,000 results leave few buckets empty
        for _, value, _, low, high in rows:
            if value is not None:
                assert low <= value <= high

    def test_the_overview_tiles_match_the_alert_engines_evaluations(self, loaded_dsn: str) -> None:
        tiles = next(p for t, p in panels() if "指标完成情况" in t)
        with connect(loaded_dsn) as conn:
            rows = conn.execute(
                expand(tiles["targets"][0]["rawSql"], VARIABLES, *RANGES["30 days"]).encode()
            ).fetchall()
            stored = conn.execute(
                "SELECT count(DISTINCT indicator_id) FROM indicator_evaluations WHERE plan_id ="
                " 'jingzhou-2023' AND region_code = '421000' AND subcategory = ''"
            ).fetchone()
        assert stored is not None
        assert len(rows) == stored[0] > 0
        assert len(rows) == len(presets()["jingzhou-2023"].indicators)  # a tile for every indicator
        assert {r[4] for r in rows} <= {"达标", "警告", "严重", "样本不足"}
        assert {r[1] for r in rows if r[0] == "食品安全评价性抽检合格率"} == {"近30天"}  # the chosen window, labelled

    def test_the_forecast_panel_shows_what_indicators_pace_computes_for_the_day(self, loaded_dsn: str) -> None:
        from indicators.pace import forecast_rows

        in_force = presets()["jingzhou-2023"].model_copy(update={"in_force_until": date(2099, 12, 31)})
        with connect(reader_dsn(loaded_dsn)) as reader:
            rows = run_panel(reader, "达标预测", "30 days")
        with connect(loaded_dsn) as conn:
            truth = {
                (r["indicator_name"], r["subcategory"] or "全部"): r
                for r in forecast_rows(conn, in_force, local_day(NOW), timezone="Asia/Shanghai", region="421000")
            }
        # Every rate indicator with a fixed target, and each of its subcategories where it breaks down by them.
        assert {(r[0], r[1]) for r in rows} == set(truth)
        for name, sub, _, so_far, tested, planned, _, _, projected, low, high, probability, outcome, as_of in rows:
            t = truth[(name, sub)]
            assert (tested, planned, outcome, as_of) == (
                t["tested"],
                t["planned_text"],
                {"open": "待定", "met": "已确定达标", "lost": "已无法达标"}[t["outcome"]],
                local_day(NOW),
            )
            assert projected == pytest.approx(t["projected"])
            assert so_far == pytest.approx(t["so_far"])
            if outcome == "待定":
                assert low <= projected <= high
                assert 0 <= probability <= 100


def run_panel(conn: psycopg.Connection, fragment: str, span: str) -> list[tuple[Any, ...]]:
    panel = next(p for t, p in panels() if fragment in t)
    return conn.execute(expand(panel["targets"][0]["rawSql"], VARIABLES, *RANGES[span]).encode()).fetchall()


# The truth for the chosen indicator, from the final verdicts themselves rather than any rollup.
INDICATOR_SAMPLES = """
FROM sample_current c JOIN plan_indicators f ON c.category = ANY(f.categories)
  AND (cardinality(f.sampling_types) = 0 OR c.sampling_type = ANY(f.sampling_types))
WHERE f.plan_id = 'jingzhou-2023' AND f.indicator_id = 'agricultural-routine-pass'
"""

# The truth for the failure panels, from the history rows the current verdicts point at.
FAILED_HISTORY = """
FROM sample_current c
JOIN inspection_results r ON r.sample_id = c.sample_id AND r.revision = c.revision AND r.sampled_at = c.sampled_at
{items}
WHERE c.verdict = 'fail' AND c.sampled_at BETWEEN %s AND %s
  AND c.sampling_type NOT IN ('risk_monitoring', 'survey')  -- no failure counted, no firm named, on these
"""


class TestPanelValues:
    """Panels that read the monthly rollup or the current failures answer what the final verdicts say."""

    def test_the_three_year_trend_counts_every_sample_of_each_month(self, loaded_dsn: str) -> None:
        first, last = (local_day(t) for t in RANGES["3 years"])
        with connect(loaded_dsn) as conn:
            panel = {
                time.astimezone(SHANGHAI).date().isoformat(): value
                for time, value, *_ in run_panel(conn, "trends.json", "3 years")
            }
            truth = conn.execute(
                f"SELECT date_trunc('month', c.day)::date::text,"
                f" 100.0 * count(*) FILTER (WHERE c.verdict = 'pass') / count(*) {INDICATOR_SAMPLES}"
                f" AND c.day BETWEEN %s AND %s GROUP BY 1",
                (first, last),
            ).fetchall()
        assert len(truth) > 30
        for month, rate in truth:
            assert float(panel[month]) == pytest.approx(float(rate)), month
        assert all(value is None for month, value in panel.items() if month not in dict(truth))

    def test_the_regions_panel_counts_every_sample_of_each_county(self, loaded_dsn: str) -> None:
        first, last = (local_day(t) for t in RANGES["3 years"])
        with connect(loaded_dsn) as conn:
            panel = {code: int(n) for _, code, n, *_ in run_panel(conn, "各县(市、区)", "3 years")}
            truth: dict[str, int] = dict(
                conn.execute(
                    f"SELECT c.region_code, count(*) {INDICATOR_SAMPLES} AND c.day BETWEEN %s AND %s GROUP BY 1",
                    (first, last),
                ).fetchall()
            )
        assert panel == truth

    def test_year_to_date_and_the_same_period_last_year(self, loaded_dsn: str) -> None:
        today = local_day(NOW)
        same_day = today.replace(year=today.year - 1, day=min(today.day, 28) if today.month == 2 else today.day)
        with connect(loaded_dsn) as conn:
            panel = {row[0]: row[1:] for row in run_panel(conn, "本年累计与去年同期", "30 days")}

            def rate(first: date, last: date) -> float:
                row = conn.execute(
                    f"SELECT 100.0 * count(*) FILTER (WHERE c.verdict = 'pass') / count(*)"
                    f" {INDICATOR_SAMPLES} AND c.day BETWEEN %s AND %s",
                    (first, last),
                ).fetchone()
                assert row is not None
                return float(row[0])

            expected = (rate(today.replace(month=1, day=1), today), rate(same_day.replace(month=1, day=1), same_day))
        assert tuple(map(float, panel["农产品质量安全例行监测合格率"])) == pytest.approx(expected)

    def test_the_failure_panels_agree_with_the_history(self, loaded_dsn: str) -> None:
        bounds = RANGES["3 years"]
        with connect(loaded_dsn) as conn:
            items = dict(run_panel(conn, "帕累托", "3 years"))
            offenders = {firm: n for firm, n, _ in run_panel(conn, "多次不合格", "3 years")}
            latest = [row[0] for row in run_panel(conn, "最新不合格样品", "3 years")]  # times: ties may swap ids
            each_item = FAILED_HISTORY.format(items="CROSS JOIN LATERAL jsonb_array_elements(r.failed_items) i")
            item_sql = f"SELECT i->>'item', count(*) {each_item} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 15"
            item_truth: dict[str, int] = dict(conn.execute(item_sql, bounds).fetchall())
            failed = FAILED_HISTORY.format(items="")
            firm_sql = (
                f"SELECT coalesce(r.manufacturer, r.sampled_unit), count(*) {failed}"
                " AND coalesce(r.manufacturer, r.sampled_unit) IS NOT NULL GROUP BY 1"
                " HAVING count(*) >= 2 ORDER BY 2 DESC, 1 LIMIT 50"
            )
            firm_truth: dict[str, int] = dict(conn.execute(firm_sql, bounds).fetchall())
            latest_truth = [
                row[0]
                for row in conn.execute(f"SELECT c.sampled_at {failed} ORDER BY c.sampled_at DESC LIMIT 100", bounds)
            ]
        assert items == item_truth
        assert len(items) > 3
        assert offenders == firm_truth
        assert latest == latest_truth


class TestPrometheusPanels:
    def test_every_promql_panel_is_accepted_by_prometheus(self, stack: Settings) -> None:
        checked = 0
        for title, panel in panels():
            for target in panel.get("targets", []):
                if "expr" not in target:
                    continue
                answer = httpx.get(
                    f"{stack.prometheus_url.get_secret_value()}/api/v1/query",
                    params={"query": target["expr"]},
                    timeout=10,
                ).json()
                assert answer["status"] == "success", (title, answer)
                checked += 1
        assert checked == 7  # the pipeline dashboard


class TestDashboardFiles:
    def test_the_committed_json_is_current(self) -> None:
        assert stale() == [], "run `qsmon dashboards build` and commit dashboards/json"

    def test_every_dashboard_has_chinese_titles_and_its_variables(self) -> None:
        for name, text in render().items():
            board = json.loads(text)
            assert any("\u4e00" <= ch <= "\u9fff" for ch in board["title"]), name
            names = {v["name"] for v in board.get("templating", {}).get("list", [])}
            if name != "pipeline.json":
                assert {"plan", "region"} <= names, name
        assert (JSON_DIR / "overview.json").exists()
