"""The monthly bulletin (#22) on the real stack: problem-type shares, per-大类 table with 合计 and 同比, 环节 and
sampling-type tables that add up, the 不合格产品信息 workbook, reference figures, and the analysis written from them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import psycopg
import pytest

from indicators.problem_types import UNCLASSIFIED, problem_type
from qsmon.plans import load_plan_text
from qsmon.schema import FailedItem, InspectionResult
from qsmon.settings import Settings
from qsmon.vocab import Category
from reports.analysis import NEXT_STEPS, analysis
from reports.bulletin import ReferenceFigure
from reports.data import gather
from reports.published import PUBLISHED_COLUMNS
from reports.run import write_report
from reports.tables import (
    NO_LAST_YEAR,
    NO_NOTE,
    classes,
    other_categories,
    problem_types_table,
    references,
    risk_analysis,
    sampling_types,
    stages,
)
from tests.factories import result
from tests.workers import DirectWriter

pytestmark = pytest.mark.integration

PLAN = load_plan_text("""\
id: bulletin-test
title: 测试市质量强市
issuer: 测试
jurisdiction: {name: 荆州市, region_code: "421000"}
period: {start: 2024-01-01, end: 2027-12-31}
indicators:
  - id: food-pass
    name: 食品抽检合格率
    source: 食品抽检合格率
    measure: pass_rate
    filter: {categories: [food]}
    target: {op: ">=", value: 98}
    windows: [month_to_date]
""")

MARCH = datetime(2026, 3, 10, 3, tzinfo=UTC)
MARCH_LAST_YEAR = datetime(2025, 3, 10, 3, tzinfo=UTC)
ITEMS = {
    "毒死蜱": FailedItem(item="毒死蜱", measured="0.35", limit="≤0.1", unit="mg/kg"),
    "菌落总数": FailedItem(item="菌落总数", measured="2.1×10⁵", limit="≤10⁵", unit="CFU/g"),
    "苯甲酸": FailedItem(item="苯甲酸及其钠盐(以苯甲酸计)", measured="1.2", limit="≤1.0", unit="g/kg"),
    "导体电阻": FailedItem(item="导体电阻", measured="12.1", limit="≤10.0", unit="Ω/km"),
    "新项目": FailedItem(item="某新检测项目", measured="1", limit="0"),
}


def _batch(
    prefix: str, n: int, failing: list[tuple[str, ...]], at: datetime = MARCH, **fields: Any
) -> list[InspectionResult]:
    """n results; the first len(failing) fail with the items named."""
    out = []
    for i in range(n):
        items = failing[i] if i < len(failing) else ()
        extra: dict[str, Any] = {**fields, "failed_items": tuple(ITEMS[k] for k in items)} if items else fields
        out.append(result(f"{prefix}-{i}", at=at, verdict="fail" if items else "pass", **extra))
    return out


@pytest.fixture
def stored(settings: Settings) -> list[InspectionResult]:
    results = [
        *_batch(
            "G",
            40,
            [("菌落总数",), ("苯甲酸", "菌落总数")],
            subcategory="粮食加工品",
            stage="production",
            manufacturer="某面粉厂",
            manufacturer_address="湖北省荆州市沙市区某路1号",
            sampled_unit_address="湖北省荆州市荆州区某街2号",
            brand="某牌",
            spec="5kg",
            batch="20260301",
            announcement_no="2026年第3期",
            task_source="荆州市市场监督管理局",
        ),
        *_batch("D", 30, [("新项目",)], subcategory="豆制品", stage="catering", manufacturer="某面粉厂"),
        *_batch("A", 20, [("毒死蜱",)], subcategory="食用农产品", stage="distribution"),
        *_batch(
            "M",
            25,
            [("导体电阻",), ("导体电阻",)],
            category="manufactured",
            subcategory="电线电缆",
            sampling_type="supervisory",
            stage="production",
        ),
        *_batch(
            "R", 10, [("菌落总数",)] * 3, subcategory="水产制品", sampling_type="risk_monitoring", stage="distribution"
        ),
        *_batch("S", 5, [], category="service", subcategory="服务业", sampling_type="survey", score=80.0),
        *_batch("LY", 10, [("菌落总数",)], at=MARCH_LAST_YEAR, subcategory="粮食加工品", stage="production"),
    ]
    writer = DirectWriter(settings)
    try:
        writer.store_results(results)
    finally:
        writer.close()
    return results


REFERENCES = (
    ReferenceFigure(
        scope="全国",
        category=Category.FOOD,
        subcategory="粮食加工品",
        period="2025年",
        fail_rate=1.2,
        source="市场监管总局2025年食品安全监督抽检情况通告",
    ),
)


def test_the_bulletin_tables_add_up(settings: Settings, db: psycopg.Connection, stored: list[InspectionResult]) -> None:
    report = gather(db, PLAN, 2026, 3, timezone=settings.timezone, references=REFERENCES)
    b = report.bulletin
    march = [r for r in stored if r.sampled_at == MARCH]
    in_totals = [r for r in march if r.sampling_type.value not in ("risk_monitoring", "survey")]
    food = [r for r in in_totals if r.category is Category.FOOD]
    # The food tables' scope: only 评价性抽检 here, and every total and sentence says so.
    assert b.scope.label == "评价性抽检"

    # Problem types: shares sum to 100 and equal the food failed items (项次) by type; the unknown item is listed.
    expected: Counter[str] = Counter(
        problem_type(r.category, i.item) or UNCLASSIFIED for r in food for i in r.failed_items
    )
    assert {p.name: p.items for p in b.problems} == expected
    assert sum(p.share for p in b.problems) == pytest.approx(100.0)
    assert b.problems[-1].name == UNCLASSIFIED
    assert b.problems[-1].examples == ("某新检测项目",)
    assert [row[0].value for row in problem_types_table(report).rows][-1] == UNCLASSIFIED

    # Per 大类, food only, with 合计 equal to every food batch of the month in totals, whatever the indicators filter.
    table = classes(report)
    by_class = {(row[0].value, row[1].value): (row[2].value, row[3].value) for row in table.rows}
    assert by_class[("食品", "粮食加工品")] == (40, 2)
    assert by_class[("食品", "食用农产品")] == (20, 1)
    assert by_class[("合计(评价性抽检)", "")] == (len(food), sum(r.verdict.value == "fail" for r in food))
    assert ("食品", "水产制品") not in by_class  # risk monitoring stands apart
    assert not any(row[0].value == "工业产品" for row in table.rows)  # other categories have a table of their own
    others = {(row[0].value, row[1].value): (row[2].value, row[3].value) for row in other_categories(report).rows}
    assert others == {("工业产品", "监督抽检"): (25, 2)}
    # 同比 from the rates as shown (5.00 % and 10.00 %); 豆制品 had no batches a year ago, and the table says so.
    grain = next(row for row in table.rows if row[1].value == "粮食加工品")
    assert grain[-1].value == Decimal("-5.00")
    beans = next(row for row in table.rows if row[1].value == "豆制品")
    assert beans[-1].value == NO_LAST_YEAR

    # 环节 and sampling types add up to the same total; risk monitoring is 问题发现率 on its own line.
    stage_rows = stages(report).rows
    assert sum(row[1].value for row in stage_rows[:-1]) == stage_rows[-1][1].value == len(food)
    assert [row[0].value for row in stage_rows] == ["生产环节", "流通环节", "餐饮环节", "合计(评价性抽检)"]
    types = {row[0].value: row for row in sampling_types(report).rows}
    assert types["风险监测"][1].value == "问题发现率"
    assert (types["风险监测"][2].value, types["风险监测"][3].value) == (10, 3)
    assert types["合计(评价性抽检)"][2].value == types["评价性抽检"][2].value == len(food)
    assert "满意度测评" not in types

    # Reference figures beside the local one; classes without one are listed, not hidden.
    ref_rows = references(report).rows
    assert ref_rows[0][0].value == "全国"
    assert ref_rows[0][5].value == pytest.approx(5.0)
    assert {row[2].value for row in ref_rows if row[0].value == "未提供参照数据"} >= {"豆制品", "食用农产品"}

    # 风险解析: every failed item once; one without a note says so instead of disappearing.
    notes = {row[0].value: row for row in risk_analysis(report).rows}
    assert notes["某新检测项目"][2].value == NO_NOTE
    assert "GB 2760" in str(notes["苯甲酸及其钠盐(以苯甲酸计)"][3].value)

    # Repeat failures within a year: 某面粉厂 (2 in 粮食加工品, 1 in 豆制品); none on risk monitoring alone.
    assert b.repeat_firms[0].firm == "某面粉厂"
    assert b.repeat_firms[0].failures == 3

    # The analysis: every sentence names its table, and 下一步工作 is left for staff.
    sentences = analysis(report)
    assert sentences[0].text.startswith(f"2026年3月评价性抽检{len(food)}批次")
    assert all(s.table for s in sentences[:-1])
    assert sentences[-1].text == NEXT_STEPS
    assert any("尚未归类（某新检测项目）" in s.text for s in sentences)  # full-width inside Chinese text
    assert any("问题发现率30.00%" in s.text for s in sentences)
    assert any(s.text.startswith("其他类别：工业产品监督抽检25批次（不合格2批次") for s in sentences)


def test_the_failure_list_has_the_published_columns_and_one_row_per_failed_sample(
    settings: Settings, stored: list[InspectionResult], tmp_path: Path
) -> None:
    files = write_report(
        settings.model_copy(update={"reference_figures_file": None}), PLAN, 2026, 3, tmp_path, ["xlsx"]
    )
    published = next(p for p in files if p.name.endswith("不合格产品信息.xlsx"))
    sheet = openpyxl.load_workbook(published).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "荆州市2026年3月不合格产品信息"
    assert str(rows[1][0]).startswith("声明：")  # the declaration notices print above the table
    assert tuple(rows[2]) == PUBLISHED_COLUMNS
    failed = [
        r
        for r in stored
        if r.verdict.value == "fail" and r.sampled_at == MARCH and r.sampling_type.value != "risk_monitoring"
    ]
    body = rows[3:]
    assert len(body) == len([r for r in failed if r.category is Category.FOOD])
    # Other categories: a sheet of their own, whose product column is 产品名称.
    book = openpyxl.load_workbook(published)
    others = list(book["其他产品不合格信息"].iter_rows(values_only=True))
    assert others[2][5] == "产品名称"
    assert len(others) - 3 == len([r for r in failed if r.category is not Category.FOOD])
    flour = next(row for row in body if row[1] == "某面粉厂" and row[2])
    column = dict(zip(PUBLISHED_COLUMNS, flour, strict=True))
    assert column["标称生产企业地址"] == "湖北省荆州市沙市区某路1号"
    assert column["被抽样单位地址"] == "湖北省荆州市荆州区某街2号"
    assert (column["商标"], column["规格型号"], column["生产日期/批号"]) == ("某牌", "5kg", "20260301")
    assert (column["公告号"], column["任务来源"]) == ("2026年第3期", "荆州市市场监督管理局")
    assert column["分类"] == "粮食加工品"
    assert "菌落总数║2.1×10⁵CFU/g║≤10⁵CFU/g" in str(column["不合格项目║检验结果║标准值"])


def test_only_the_public_columns_are_written(
    settings: Settings, stored: list[InspectionResult], tmp_path: Path
) -> None:
    chosen = ("标称生产企业名称", "食品名称", "不合格项目║检验结果║标准值")
    files = write_report(
        settings.model_copy(update={"public_failure_columns": chosen}), PLAN, 2026, 3, tmp_path, ["xlsx"]
    )
    sheet = openpyxl.load_workbook(next(p for p in files if "不合格产品信息" in p.name)).active
    assert sheet is not None
    assert next(sheet.iter_rows(min_row=3, max_row=3, values_only=True)) == ("序号", *chosen)


@pytest.mark.parametrize(
    ("category", "item"),
    [
        ("food", "苯甲酸及其钠盐(以苯甲酸计)"),
        ("food", "菌落总数"),
        ("agricultural", "毒死蜱"),
        ("food", "铅(以Pb计)"),
        ("manufactured", "导体电阻"),
        ("manufactured", "纤维含量"),
        ("engineering", "毒死蜱"),
        ("food", "某新检测项目"),
        ("drug", "溶出度"),
        ("cosmetic", "菌落总数"),
    ],
)
def test_the_dashboards_problem_type_is_the_reports(db: psycopg.Connection, category: str, item: str) -> None:
    from indicators.problem_types import problem_type_rows
    from qsmon.storage.reference import sync_reference

    sync_reference(db, [], (), problem_type_rows())
    row = db.execute("SELECT problem_type(%s, %s)", (category, item)).fetchone()
    assert row is not None
    assert row[0] == problem_type(Category(category), item)


TASK_PLAN = load_plan_text("""\
id: task-test
title: 测试市质量强市
issuer: 测试
jurisdiction: {name: 荆州市, region_code: "421000"}
period: {start: 2024-01-01, end: 2027-12-31}
indicators:
  - id: food-pass
    name: 食品抽检合格率
    source: 食品抽检合格率
    measure: pass_rate
    filter: {categories: [food]}
    target: {op: ">=", value: 98}
    windows: [month_to_date]
sampling_tasks:
  - id: food-volume
    name: 食品评价性抽检任务
    source: 每年完成食品评价性抽检1200批次
    filter: {categories: [food], sampling_types: [evaluative]}
    per_year: 1200
  - id: food-per-thousand
    name: 食品抽检量
    source: 食品抽检量达到每千人4批次
    filter: {categories: [food]}
    per_thousand_residents: 4
""")


def test_task_progress_is_done_against_due_by_county(
    settings: Settings, db: psycopg.Connection, stored: list[InspectionResult], tmp_path: Path
) -> None:
    from reports.tables import NO_POPULATION, tasks
    from reports.tasks import load_population

    population = tmp_path / "population.yaml"
    population.write_text(
        'source: 测试数据\nyear: 2025\nresidents: {"421000": 5000000, "421003": 600000}\n', encoding="utf-8"
    )
    report = gather(db, TASK_PLAN, 2026, 3, timezone=settings.timezone, population=load_population(population))
    rows = {(r.task.id, r.region_code): r for r in report.tasks}
    elapsed = 90 / 365  # 1 January to 31 March
    city = rows[("food-volume", "421000")]
    assert (city.annual, city.done) == (1200, 90)  # the March batches; last year's do not count
    assert city.due == pytest.approx(1200 * elapsed)
    county = rows[("food-volume", "421003")]
    assert county.annual == pytest.approx(1200 * 0.12)  # split by population share
    assert county.progress == pytest.approx(90 / (144 * elapsed) * 100)
    assert rows[("food-volume", "421002")].annual is None  # no population for it: the table says so
    per_thousand = rows[("food-per-thousand", "421000")]
    assert (per_thousand.annual, per_thousand.done) == (20000, 90)  # risk monitoring is not a supervisory batch
    table = tasks(report)
    assert any(row[2].value == NO_POPULATION for row in table.rows)
