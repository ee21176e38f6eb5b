"""不合格产品信息: the month's failed samples in the column layout announcements publish, as a workbook of its own
ready for 信息公开. ``QSMON_PUBLIC_FAILURE_COLUMNS`` chooses which of the published columns go out.

Food failures fill the first sheet, as food notices publish them; other categories' go to a sheet of their own,
where the product column is 产品名称. Risk monitoring's problem samples are never published as 不合格
(indicators.counting.in_totals)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

import psycopg
import xlsxwriter

from indicators.counting import in_totals_sql
from indicators.labels import label
from qsmon.escaping import SAFE_XLSX  # announced texts never become formulas or links (reports.xlsx imports it)
from qsmon.exceptions import ConfigError
from qsmon.food_classes import food_classes
from qsmon.publication import NO_RETEST_PENDING_SQL
from qsmon.schema import FailedItem
from qsmon.vocab import Category, RetestStatus

PUBLISHED_COLUMNS: tuple[str, ...] = (
    "序号",
    "标称生产企业名称",
    "标称生产企业地址",
    "被抽样单位名称",
    "被抽样单位地址",
    "食品名称",
    "规格型号",
    "商标",
    "生产日期/批号",
    "不合格项目║检验结果║标准值",
    "分类",
    "公告号",
    "公告日期",
    "任务来源",
    "检验机构",
    "备注",
)
_WIDTHS = dict(zip(PUBLISHED_COLUMNS, (6, 28, 36, 28, 36, 16, 12, 10, 14, 44, 14, 16, 12, 24, 28, 12), strict=True))


# The product column's name outside food, where "食品名称" would be wrong.
PRODUCT_COLUMN = {"食品名称": "产品名称"}
OTHER_PRODUCTS_SHEET = "其他产品不合格信息"


@dataclass(frozen=True, slots=True)
class PublishedFailure:
    category: Category
    sample_id: str
    manufacturer: str | None
    manufacturer_address: str | None
    sampled_unit: str | None
    sampled_unit_address: str | None
    product: str | None
    spec: str | None
    brand: str | None
    batch: str | None
    items: tuple[FailedItem, ...]
    food_class: str
    announcement_no: str | None
    announcement_date: date | None
    task_source: str | None
    lab: str | None
    retest: RetestStatus | None

    def cells(self, number: int) -> dict[str, object]:
        return {
            "序号": number,
            "标称生产企业名称": self.manufacturer,
            "标称生产企业地址": self.manufacturer_address,
            "被抽样单位名称": self.sampled_unit,
            "被抽样单位地址": self.sampled_unit_address,
            "食品名称": self.product,
            "规格型号": self.spec,
            "商标": self.brand,
            "生产日期/批号": self.batch,
            "不合格项目║检验结果║标准值": items_published(self.items),
            "分类": self.food_class,
            "公告号": self.announcement_no,
            "公告日期": self.announcement_date.isoformat() if self.announcement_date else None,
            "任务来源": self.task_source,
            "检验机构": self.lab,
            "备注": label(self.retest) if self.retest else None,
        }


def items_published(items: Sequence[FailedItem]) -> str:
    """毒死蜱║0.35mg/kg║≤0.1mg/kg, one item a line, as the published column writes them."""
    lines = []
    for item in items:
        unit = item.unit or ""
        measured = f"{item.measured}{unit}" if item.measured else ""
        # A qualitative limit (不得检出) takes no unit: "不得检出μg/kg" is no limit a reader knows.
        limit = f"{item.limit}{unit if any(c.isdigit() for c in item.limit) else ''}" if item.limit else ""
        lines.append("║".join((item.item, measured, limit)))
    return "\n".join(lines)


@cache
def _class_numbers() -> dict[str, int]:
    return {c.name: c.order for c in food_classes().classes}


def class_order(name: str) -> tuple[int, str]:
    """The 细则's order of 大类 (一 粮食加工品 … 三十三 食用农产品), unknown names after them."""
    return _class_numbers().get(name, 999), name


def published_order(failure: PublishedFailure) -> tuple[object, ...]:
    """Notices list failed products by 分类 in the 细则's order, then by announcement and sample."""
    return (
        failure.category.value,
        class_order(failure.food_class),
        failure.announcement_date or date.min,
        failure.sample_id,
    )


_FAILURES = f"""
SELECT f.category, f.sample_id, r.manufacturer, r.manufacturer_address, r.sampled_unit, r.sampled_unit_address,
    r.product, r.spec, r.brand, r.batch, r.failed_items, f.subcategory, r.announcement_no, r.announcement_date,
    r.task_source, r.lab, r.retest_status
FROM failure_current f
JOIN inspection_results r ON r.sample_id = f.sample_id AND r.revision = f.revision AND r.sampled_at = f.sampled_at
WHERE f.day BETWEEN %s AND %s AND f.region_code LIKE %s
  AND {in_totals_sql("f.sampling_type")} AND {NO_RETEST_PENDING_SQL}  -- never a failure a 复检 may overturn
ORDER BY f.day, f.sample_id
"""


def published_failures(conn: psycopg.Connection, first: date, last: date, pattern: str) -> list[PublishedFailure]:
    """Every current failed sample of the days, one row each, with what its announcement published, in the
    published order (:func:`published_order`)."""
    return sorted(
        (
            PublishedFailure(
                Category(category),
                sid,
                mf,
                mf_addr,
                unit,
                unit_addr,
                product,
                spec,
                brand,
                batch,
                tuple(FailedItem.model_validate(i) for i in items),
                food_class or "",
                no,
                on,
                task,
                lab,
                RetestStatus(retest) if retest else None,
            )
            for (
                category,
                sid,
                mf,
                mf_addr,
                unit,
                unit_addr,
                product,
                spec,
                brand,
                batch,
                items,
                food_class,
                no,
                on,
                task,
                lab,
                retest,
            ) in conn.execute(_FAILURES, (first, last, pattern))
        ),
        key=published_order,
    )


def public_columns(chosen: Sequence[str]) -> tuple[str, ...]:
    """The published columns to write: all, or the chosen ones in the published order (序号 always first)."""
    unknown = sorted(set(chosen) - set(PUBLISHED_COLUMNS))
    if unknown:
        raise ConfigError(
            "QSMON_PUBLIC_FAILURE_COLUMNS names columns the published layout does not have",
            unknown="、".join(unknown),
            columns="、".join(PUBLISHED_COLUMNS),
        )
    if not chosen:
        return PUBLISHED_COLUMNS
    return tuple(c for c in PUBLISHED_COLUMNS if c == "序号" or c in chosen)


EMPTY = "/"  # what notices print in a cell with nothing to say


def write_published(
    rows: Sequence[PublishedFailure],
    title: str,
    path: Path,
    columns: Sequence[str],
    *,
    created: datetime,
    declaration: str = "",
) -> Path:
    """The annex as notices publish it: a title, the declaration line, the header repeated on every printed page,
    landscape A4 fitted to the width, "/" in empty cells."""
    book = xlsxwriter.Workbook(str(path), SAFE_XLSX)
    book.set_properties({"title": title, "author": "qsmon", "created": created})  # fixed: same data, same bytes
    food = [r for r in rows if r.category is Category.FOOD]
    others = [r for r in rows if r.category is not Category.FOOD]
    _sheet(book, "不合格产品信息", (title, declaration), food, columns, columns)
    if others:
        _sheet(
            book,
            OTHER_PRODUCTS_SHEET,
            (title.replace("不合格产品信息", OTHER_PRODUCTS_SHEET), declaration),
            others,
            columns,
            [PRODUCT_COLUMN.get(c, c) for c in columns],
        )
    book.close()
    return path


HEADER_ROW = 2  # under the title and the declaration


def _sheet(
    book: xlsxwriter.Workbook,
    name: str,
    heading: tuple[str, str],
    rows: Sequence[PublishedFailure],
    columns: Sequence[str],
    headers: Sequence[str],
) -> None:
    title, declaration = heading
    sheet = book.add_worksheet(name)
    header = book.add_format({"bold": True, "border": 1, "text_wrap": True, "align": "center", "valign": "vcenter"})
    wrapped = book.add_format({"text_wrap": True, "valign": "top", "border": 1})
    centred = book.add_format({"text_wrap": True, "valign": "top", "align": "center", "border": 1})
    last = len(columns) - 1
    sheet.merge_range(0, 0, 0, last, title, book.add_format({"bold": True, "font_size": 14, "align": "center"}))
    sheet.merge_range(1, 0, 1, last, declaration, book.add_format({"font_size": 10}))
    sheet.write_row(HEADER_ROW, 0, headers, header)
    for n, failure in enumerate(rows, 1):
        cells = failure.cells(n)
        for c, column in enumerate(columns):
            value = cells[column]
            if value is None or value == "":
                sheet.write_string(HEADER_ROW + n, c, EMPTY, centred)
            else:
                sheet.write(HEADER_ROW + n, c, value, centred if column == "序号" else wrapped)
    for c, column in enumerate(columns):
        sheet.set_column(c, c, _WIDTHS[column])
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)  # the page's width, as many pages down as needed
    sheet.repeat_rows(HEADER_ROW)  # the header on every printed page
