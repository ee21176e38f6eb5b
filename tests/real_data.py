"""Real scraped sampling results (../shared/data/real, never copied into the repository) laid out as the SAMR
announcement workbooks bureaus publish: a pass sheet and a fail sheet under title rows, wrapped cells kept, dates
written the several ways announcements write them."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import openpyxl
import pytest

REAL = Path(os.environ.get("QSMON_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))
FOODMATE = REAL / "foodmate_2022H1_bean_starch_products.csv"
CQN = REAL / "cqn_2019_unqualified_sample.csv"
CQN_FIELDS = (
    "id",
    "title",
    "publish_time",
    "info_sources",
    "company_name",
    "company_address",
    "sampled_unit",
    "sampled_address",
    "sample_name",
    "specification_type",
    "trademark",
    "production_date",
    "factory_num",
    "approval_num",
    "unqualified",
    "test_value",
    "standard",
    "sampling_unit",
    "inspection_institution",
    "source_url",
)
HEADER = [
    "序号",
    "标称生产企业名称",
    "标称生产企业地址",
    "被抽样单位名称",
    "被抽样单位地址",
    "被抽样单位所在省份",
    "食品名称",
    "规格型号",
    "商标",
    "生产日期/批号",
    "不合格项目║检验结果║标准值",
    "分类",
    "公告号",
    "公告日期",
    "任务来源/项目名称",
    "检验机构",
    "备注",
]


def require(path: Path) -> Path:
    if not path.exists():  # the data stays outside the repository; without it there is nothing to check
        pytest.skip(f"real data not found at {path} (set QSMON_REAL_DATA)")
    return path


def _date_styles(iso: str, n: int) -> str:
    """The same day as announcements write it, varying by row: 2022-01-14, 2022/1/14, 2022年1月14日."""
    y, m, d = (int(x) for x in iso[:10].split("-"))
    return (f"{y}-{m:02d}-{d:02d}", f"{y}/{m}/{d}", f"{y}年{m}月{d}日")[n % 3]


def _sheet(book: openpyxl.Workbook, title: str, rows: list[list[object]]) -> None:
    sheet = book.create_sheet(title)
    sheet.append([title])  # the title row above the header, merged across it as published
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)


def foodmate_workbook(path: Path) -> tuple[Path, int, int]:
    """The foodmate scrape (pass and fail, 2,297 rows) as one workbook; returns it with its pass and fail counts."""
    passed: list[list[object]] = []
    failed: list[list[object]] = []
    with require(FOODMATE).open(encoding="utf-8", newline="") as handle:
        for n, row in enumerate(csv.DictReader(handle)):
            publisher = row["发布单位"]
            _, _, authority = publisher.partition("(")
            province = re.sub(r"(市场监管局|市场监督管理局|国家市场监管总局)\)?$", "", authority.rstrip(")"))
            items = "║".join(x for x in (row["检测项目"], row["检测结果"], row["限量值"]))
            cells: list[object] = [
                len(failed if row["判定"] == "不合格" else passed) + 1,
                row["生产商"],
                None,
                row["供应商"],
                None,
                province or None,
                row["物料名称"],
                None,
                None,
                None,
                items if row["判定"] == "不合格" else None,
                row["产品分类"].split("-->")[-1],
                None,
                _date_styles(row["发布日期"], n),
                publisher,
                None,
                row["备注"] or None,
            ]
            (failed if row["判定"] == "不合格" else passed).append(cells)
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    _sheet(book, "食品安全监督抽检产品合格信息", passed)
    _sheet(book, "食品安全监督抽检不合格产品信息", failed)
    book.save(path)
    return path, len(passed), len(failed)


def cqn_food_rows() -> list[dict[str, str]]:
    """The cqn scrape's SAMR food failures that have a body (the rest are titles only, or drugs)."""
    with require(CQN).open(encoding="utf-8", newline="") as handle:
        rows = [dict(zip(CQN_FIELDS, r, strict=False)) for r in csv.reader(handle)]
    return [r for r in rows if r["info_sources"] == "市场监管总局" and r["sample_name"].strip()]


def cqn_workbook(path: Path) -> tuple[Path, int]:
    """The cqn scrape's food failures as a fail sheet with both addresses; returns it with its row count."""
    rows: list[list[object]] = [
        [
            n + 1,
            r["company_name"],
            r["company_address"],
            r["sampled_unit"],
            r["sampled_address"],
            None,
            r["sample_name"],
            r["specification_type"],
            r["trademark"],
            r["production_date"],
            f"{r['unqualified']}║{r['test_value']}║{r['standard']}",
            None,
            None,
            r["publish_time"][:10],
            "国家市场监督管理总局食品安全监督抽检",
            r["inspection_institution"],
            None,
        ]
        for n, r in enumerate(cqn_food_rows())
    ]
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    _sheet(book, "食品安全监督抽检不合格产品信息", rows)
    book.save(path)
    return path, len(rows)
