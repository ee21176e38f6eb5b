"""Mapping a table's own columns onto the announcement reader's fields, and suggesting that mapping from the header.

Any CSV or workbook whose columns a mapping file names is read by the announcement reader (producers.importers.samr):
places from names and addresses (across history), SAMR classes, sampling levels, failed items, retests. ``qsmon
import FILE --suggest-mapping`` reads the header, matches each column against the Chinese names published tables
give it (SYNONYMS), and writes the mapping for the user to check; docs/imports.md documents every key.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from producers.exceptions import ImportFormatError
from producers.importers.samr import FIELDS, HEADERS, MAX_TITLE_ROWS, normalise_header

# Column names seen in published and scraped tables (foodmate, cqn, bureaus' own exports), beyond the announcement
# layout's (samr.HEADERS), to the fields they hold; a name can feed two fields (a 发布单位 names the task and, for a
# provincial bureau, the province).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "物料名称": ("product",),
    "产品名称": ("product",),
    "食品名称": ("product",),
    "样品名称": ("product",),
    "商品名称": ("product",),
    "名称": ("product",),
    "产品分类": ("subcategory",),
    "食品分类": ("subcategory",),
    "分类": ("subcategory",),
    "食品大类": ("subcategory",),
    "食品类别": ("subcategory",),
    "类别": ("subcategory",),
    "食品细类": ("subcategory",),
    "产品类别": ("subcategory",),
    "生产商": ("manufacturer",),
    "生产企业": ("manufacturer",),
    "生产企业名称": ("manufacturer",),
    "标称生产企业名称": ("manufacturer",),
    "标称生产者名称": ("manufacturer",),
    "企业名称": ("manufacturer",),
    "生产企业地址": ("manufacturer_address",),
    "标称生产企业地址": ("manufacturer_address",),
    "生产商地址": ("manufacturer_address",),
    "企业地址": ("manufacturer_address",),
    "供应商": ("sampled_unit",),
    "被抽样单位": ("sampled_unit",),
    "被抽样单位名称": ("sampled_unit",),
    "被抽检单位": ("sampled_unit",),
    "经营单位": ("sampled_unit",),
    "销售单位": ("sampled_unit",),
    "被抽样单位地址": ("sampled_unit_address",),
    "经营单位地址": ("sampled_unit_address",),
    "被抽样单位所在省份": ("province",),
    "省份": ("province",),
    "所在省份": ("province",),
    "地区": ("province",),
    "规格型号": ("spec",),
    "规格": ("spec",),
    "商标": ("brand",),
    "品牌": ("brand",),
    "生产日期/批号": ("batch",),
    "生产日期": ("batch",),
    "批号": ("batch",),
    "批次": ("batch",),
    "抽样编号": ("sample_no",),
    "抽样单编号": ("sample_no",),
    "样品编号": ("sample_no",),
    "序号": ("seq",),
    "公告日期": ("notice_date",),
    "发布日期": ("notice_date",),
    "通报时间": ("notice_date",),
    "通报日期": ("notice_date",),
    "发布时间": ("notice_date",),
    "公布日期": ("notice_date",),
    "抽样日期": ("sampled_date",),
    "抽检日期": ("sampled_date",),
    "公告号": ("notice_no",),
    "公告编号": ("notice_no",),
    "抽检结果": ("verdict",),
    "检验结论": ("verdict",),
    "判定结果": ("verdict",),
    "判定": ("verdict",),
    "结论": ("verdict",),
    "检验结果判定": ("verdict",),
    "判定结论": ("verdict",),
    "抽检结论": ("verdict",),
    # One failed item per row in three columns: joined in column order as item║result║limit.
    "检测项目": ("failed_items",),
    "检验项目": ("failed_items",),
    "不合格项目": ("failed_items",),
    "检测结果": ("failed_items",),
    "检验结果": ("failed_items",),
    "实测值": ("failed_items",),
    "限量值": ("failed_items",),
    "标准值": ("failed_items",),
    "标准要求": ("failed_items",),
    "标准限值": ("failed_items",),
    "不合格项目║检验结果║标准值": ("failed_items",),
    "任务来源/项目名称": ("task",),
    "任务来源": ("task",),
    "项目名称": ("task",),
    "抽检类型": ("task",),
    "发布单位": ("task", "province"),
    "信息来源": (),
    "搜索条件": (),
    "项目分类": (),
    "单位": (),
    "检验机构": ("lab",),
    "检测机构": ("lab",),
    "承检机构": ("lab",),
    "备注": ("remark",),
}


@dataclass(frozen=True, slots=True)
class Suggestion:
    headers: dict[str, list[str]]  # every column of the header -> the fields it is read as ([]: not read)
    row: int  # the header's row

    @property
    def unread(self) -> list[str]:
        return [h for h, fields in self.headers.items() if not fields]

    def to_yaml(self, source: Path) -> str:
        body = yaml.safe_dump({"headers": self.headers}, allow_unicode=True, sort_keys=False, width=120)
        return (
            f"# Suggested by `qsmon import {source.name} --suggest-mapping` from the header in row {self.row}:"
            " check each column,\n# then import with `--mapping` this file. Keys: docs/imports.md.\n"
            "# A column read as nothing is []; several fields read from one column are a list.\n"
            + body
            + "# options:            # for every row, when the table does not say\n"
            '#   category: food\n#   region_code: "420000"   # instead of the province column\n'
            "#   sampling_type: supervisory\n# encoding: auto      # or gbk, gb18030, utf-8\n"
        )


def _fields_of(header: str) -> list[str]:
    text = normalise_header(header)
    if text in SYNONYMS:
        return list(SYNONYMS[text])
    field = HEADERS.get(text)
    return [] if field is None else ["verdict" if field == "verdict_if_untitled" else field]


def suggest(rows: list[list[Any]]) -> Suggestion:
    """The mapping of the first rows' header: the row (of the first MAX_TITLE_ROWS) naming the most fields."""
    best: Suggestion | None = None
    for number, cells in enumerate(rows[:MAX_TITLE_ROWS], 1):
        headers = {str(c).strip(): _fields_of(str(c)) for c in cells if c not in (None, "") and str(c).strip()}
        named = sum(1 for fields in headers.values() if fields)
        if named >= 3 and (best is None or named > sum(1 for f in best.headers.values() if f)):
            best = Suggestion(headers, number)
    if best is None:
        raise ImportFormatError(
            f"no row of the first {MAX_TITLE_ROWS} names three columns qsmon knows (产品名称, "
            "公告日期, 判定 …): write the mapping by hand (docs/imports.md)"
        )
    return best


def first_rows(path: Path, encoding: str = "auto") -> list[list[Any]]:
    """The first rows of a CSV file or of a workbook's first sheet, to find the header in."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            return [list(r) for r in sheet.iter_rows(max_row=MAX_TITLE_ROWS, max_col=200, values_only=True)]
        finally:
            book.close()
    from producers.importers.csv_mapped import detect_encoding

    with path.open(encoding=detect_encoding(path, encoding), newline="") as handle:
        reader = csv.reader(handle)
        return [row for _, row in zip(range(MAX_TITLE_ROWS), reader, strict=False)]


def check_fields(headers: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """A mapping file's headers as SamrOptions takes them; an unknown field is an error naming it."""
    unknown = sorted({f for fields in headers.values() for f in fields} - FIELDS)
    if unknown:
        raise ImportFormatError(
            f"unknown fields in the mapping: {', '.join(unknown)} (known: {', '.join(sorted(FIELDS))})"
        )
    return {normalise_header(h): tuple(fields) for h, fields in headers.items()}
