"""The workbooks market-supervision bureaus publish with their sampling announcements (SAMR layout).

A workbook has a pass sheet (…合格…) and a fail sheet (…不合格…), title rows above the header, merged cells, and
Chinese headers: 序号, 标称生产企业名称, 标称生产企业地址, 被抽样单位名称, 被抽样单位所在省份, 食品名称, 规格型号,
商标, 生产日期/批号, 不合格项目║检验结果║标准值, 分类, 公告号, 公告日期, 任务来源/项目名称, 检验机构, 备注.

Rows stream through openpyxl's read-only mode (constant memory); merged ranges, which read-only mode does not
expose, are read from the sheet XML with a streaming parser and filled in from their top-left cell.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.cell import range_boundaries
from pydantic import ValidationError

from producers.exceptions import ImportFormatError
from producers.importers.base import (
    MAX_CELLS_PER_ROW,
    MAX_ROWS_PER_SHEET,
    MAX_TEXT_PER_FILE,
    ImportRow,
    Rejection,
    RowError,
    RowOutcome,
    SheetNote,
    TextBudget,
    absent_as_none,
    cell_text,
    local_noon,
    parse_day,
    parse_failed_items,
    row_error,
)
from qsmon.addresses import Place, locate, place, place_within
from qsmon.food_classes import classify, food_classes
from qsmon.regions import level_of, regions
from qsmon.schema import InspectionResult, safe_sample_id
from qsmon.settings import get_settings
from qsmon.vocab import Category, RetestStatus, SamplingLevel, SamplingType, Verdict

HEADERS: dict[str, str] = {
    "序号": "seq",
    "抽样编号": "sample_no",
    "抽样单编号": "sample_no",
    "抽样单号": "sample_no",
    "标称生产企业名称": "manufacturer",
    "标称生产企业": "manufacturer",
    "标称生产企业地址": "manufacturer_address",
    "被抽样单位名称": "sampled_unit",
    "被抽样单位": "sampled_unit",
    "被抽样单位所在省份": "province",
    "被抽样单位地址": "sampled_unit_address",
    "食品名称": "product",
    "样品名称": "product",
    "产品名称": "product",
    "规格型号": "spec",
    "商标": "brand",
    "生产日期/批号": "batch",
    "生产日期": "batch",
    "不合格项目║检验结果║标准值": "failed_items",
    "不合格项目|检验结果|标准值": "failed_items",
    "分类": "subcategory",
    "食品细类": "subcategory",
    "食品分类": "subcategory",
    "公告号": "notice_no",
    "公告日期": "notice_date",
    "抽样日期": "sampled_date",
    "任务来源/项目名称": "task",
    "任务来源": "task",
    "检验机构": "lab",
    "备注": "remark",
    "不合格项目": "failed_items",
    # A per-row verdict, where one sheet lists passes and fails together. A bare 结论 or 判定 only where the sheet's
    # title says neither 合格 nor 不合格: on a 不合格 sheet it may say how a case ended (整改合格).
    "检验结论": "verdict",
    "判定结论": "verdict",
    "判定结果": "verdict",
    "结果判定": "verdict",
    "抽检结论": "verdict",
    "检验结果判定": "verdict",
    "结论": "verdict_if_untitled",
    "判定": "verdict_if_untitled",
}
# Title and note rows above the header: published workbooks have up to ~5; a sheet without a header this far down
# is a cover or notes sheet, and the import says it skipped it.
MAX_TITLE_ROWS = 30


@dataclass(frozen=True)
class SamrOptions:
    category: Category = Category.FOOD
    region_code: str | None = None  # overrides 被抽样单位所在省份, e.g. a city bureau importing its own sampling
    sampling_type: SamplingType | None = None  # default: read from 任务来源/项目名称
    timezone: str = field(default_factory=lambda: get_settings().timezone)  # the local day of a date-only cell
    # Key rows without 抽样编号 by the file's name too, as imports before 2026-12 did: only to re-import such files.
    keys_by_file_name: bool = False
    # A mapping file's headers (as normalise_header spells them) -> the fields read from them, over HEADERS; no
    # fields: the column is not read (producers/importers/mapping.py, docs/imports.md).
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# The fields a mapping file may read a column as: those HEADERS names (a bare 判定 is the verdict there).
FIELDS = frozenset({*HEADERS.values(), "verdict"} - {"verdict_if_untitled"})


def normalise_header(value: object) -> str:
    """A header cell as HEADERS spells it: full-width forms read as ASCII (生产日期／批号, ｜), no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value or ""))).replace("||", "║")


def _merged_ranges(archive: Any, sheet_path: str, file: str, sheet: str) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of every merged range, streamed from the sheet XML. A range taller than
    the rows a sheet may have refuses the file: filled in, it would be every row of a table that is not there."""
    ranges: list[tuple[int, int, int, int]] = []
    with archive.open(sheet_path) as xml:
        for _, element in ET.iterparse(xml):  # noqa: S314 - see the import above
            if element.tag.endswith("}mergeCell") and element.get("ref"):
                bounds = range_boundaries(str(element.get("ref")))
                if (bounds[3] or 0) - (bounds[1] or 0) >= MAX_ROWS_PER_SHEET:
                    raise ImportFormatError(
                        f"merged range {element.get('ref')} spans more than the"
                        f" {MAX_ROWS_PER_SHEET:,} rows a sheet may have",
                        file=file,
                        sheet=sheet,
                    )
                if len(ranges) >= MAX_ROWS_PER_SHEET:
                    raise ImportFormatError(f"more than {MAX_ROWS_PER_SHEET:,} merged ranges", file=file, sheet=sheet)
                ranges.append(bounds)  # type: ignore[arg-type]
            elif element.tag.endswith("}row"):
                element.clear()  # rows are not needed here: keep memory flat
    return ranges


@dataclass(slots=True)
class _Width:
    """How many columns of a row are read: at most MAX_CELLS_PER_ROW, then the header's once it is found."""

    columns: int = MAX_CELLS_PER_ROW


def _filled(values: tuple[Any, ...]) -> int:
    return sum(1 for v in values if v not in (None, ""))


def _fill_merged(
    rows: Iterator[tuple[Any, ...]], ranges: list[tuple[int, int, int, int]], width: _Width, file: str, sheet: str
) -> Iterator[tuple[list[Any], bool]]:
    """Each row's first ``width`` cells, every cell of a merged range given the value of the range's top-left
    cell (ranges clipped to the width), with whether the row has a value of its own: a row that only a merged range
    reaches is no row of the table. A row with more than MAX_CELLS_PER_ROW filled cells refuses the file."""
    by_first_row: dict[int, list[tuple[int, int, int, int]]] = {}
    for r in ranges:
        by_first_row.setdefault(r[1], []).append(r)
    active: list[tuple[tuple[int, int, int, int], Any]] = []
    for row_number, values in enumerate(rows, 1):
        if not values and not active and row_number not in by_first_row:
            yield [], False  # a gap between rows of the sheet file: the common case made cheap
            continue
        if len(values) > MAX_CELLS_PER_ROW and _filled(values) > MAX_CELLS_PER_ROW:
            raise ImportFormatError(
                f"row {row_number} has {_filled(values):,} filled cells, more than the"
                f" {MAX_CELLS_PER_ROW:,} a table's row may have",
                file=file,
                sheet=sheet,
            )
        cells = list(values[: width.columns])
        own = any(c not in (None, "") for c in cells)
        for r in by_first_row.get(row_number, []):
            min_col = r[0]
            active.append((r, cells[min_col - 1] if min_col - 1 < len(cells) else None))
        for (min_col, min_row, max_col, max_row), value in active:
            if min_row <= row_number <= max_row and min_col <= width.columns:
                last = min(max_col, width.columns)
                while len(cells) < last:
                    cells.append(None)
                for col in range(min_col, last + 1):
                    if cells[col - 1] in (None, ""):
                        cells[col - 1] = value
        active = [(r, v) for r, v in active if r[3] > row_number]
        yield cells, own


def _sheet_verdict(title: str) -> Verdict | None:
    """合格 or 不合格 as the sheet's title says (one column layout may serve both sheets); None: it says neither."""
    if "不合格" in title:
        return Verdict.FAIL
    return Verdict.PASS if "合格" in title else None


# A verdict cell: 合格 / 不合格 / 符合 / 不符合, perhaps with a note in brackets (合格（复检）); nothing else, so
# 整改合格 or 符合性判定依据… is not read as a verdict.
_VERDICT_CELL = re.compile(r"^(?P<no>不)?(合格|符合)(\s*[（(].*[)）])?$")


def _row_verdict(cell: object, sheet_verdict: Verdict | None) -> Verdict:
    """The row's 检验结论 where the sheet has that column; an empty cell (or /, —) leaves the sheet's."""
    text = absent_as_none(cell_text(cell)) if cell not in (None, "") else ""
    if not text and sheet_verdict is not None:
        return sheet_verdict
    match = _VERDICT_CELL.match(text)
    if match is None:
        raise RowError(f"检验结论 {text!r} says neither 合格 nor 不合格")
    return Verdict.FAIL if match["no"] else Verdict.PASS


def _sampling_type(task: str, default: SamplingType | None) -> SamplingType:
    if default is not None:
        return default
    if "评价性" in task:
        return SamplingType.EVALUATIVE
    if "风险监测" in task:
        return SamplingType.RISK_MONITORING
    if "例行监测" in task:
        return SamplingType.ROUTINE_MONITORING
    if "专项" in task:
        return SamplingType.SPECIAL_MONITORING
    return SamplingType.SUPERVISORY


def sample_id_for(fields: dict[str, Any], file_key: str = "") -> str:
    """The 抽样编号 where the table has one; published tables as a rule do not, so else a key from the row's
    identity, its announcement (公告号, 公告日期) and the sample's own fields: the same row in a renamed copy of the
    file, or in a later import, has the same key; the same product of the same firm in another announcement has
    another. ``file_key`` (the file's name) is only for re-importing files first imported before 2026-12, which
    keyed rows by it (and by fewer fields)."""
    raw = fields.get("sample_no")
    if isinstance(raw, float):  # a long number Excel stored as a float has lost its last digits
        raise RowError("抽样编号 is stored as a number and has lost digits: format the column as text in Excel")
    number = absent_as_none(cell_text(raw)) if raw not in (None, "") else ""
    if number:
        return safe_sample_id(number, prefix="SAMR-")
    names: tuple[str, ...] = ("notice_no", "seq", "product", "manufacturer", "sampled_unit", "batch", "spec")
    if not file_key:
        names += ("notice_date", "sampled_date")
    identity = "|".join(_identity_text(fields.get(k)) for k in names)
    return "SAMR-" + hashlib.sha256(f"{file_key}|{identity}".encode()).hexdigest()[:24]


def _identity_text(value: object) -> str:
    """A cell as part of a row's identity: a day however it is written (a date cell, 2026/3/5, 2026年3月5日)."""
    if isinstance(value, datetime | date):
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    text = str(value or "").strip()
    try:
        return parse_day(value).isoformat() if text and re.match(r"^\d", text) and not text.isdigit() else text
    except RowError:
        return text


# The organiser's name ends before its bureau's: 湖北省荆州市 in 湖北省荆州市市场监督管理局.
_BUREAU = re.compile(r"(市场监督管理|市场监管|质量技术监督|食品药品监督管理)")
# A name's last division word gives its level; 市 needs the division itself (上海市 is a province's, 松滋市 a
# county's), and 州, 盟 and 地区 are cities (恩施州, which the address parser takes for 恩施市).
_LEVEL_BY_SUFFIX = (
    (("自治区", "省"), SamplingLevel.PROVINCIAL),
    (("州", "盟", "地区"), SamplingLevel.CITY),
    (("县", "区", "旗"), SamplingLevel.COUNTY),
)


# The level said outright, in any bracket or none: 国抽, 省抽, 市抽, 县抽 / 区抽, 省级抽检; not the end of a place's
# name (荆州市抽检 and 松滋市抽检 are the organisers' names, read below).
_LEVEL_TAG = re.compile(r"(?:(?<![\u4e00-\u9fff])|(?<=[年期批第]))(国|省|市|县|区)级?抽")
_LEVEL_BY_TAG = {
    "国": SamplingLevel.NATIONAL,
    "省": SamplingLevel.PROVINCIAL,
    "市": SamplingLevel.CITY,
    "县": SamplingLevel.COUNTY,
    "区": SamplingLevel.COUNTY,
}


def _sampling_level(task: str) -> SamplingLevel | None:
    """国抽 / 省抽 / 市抽 / 县抽 from 任务来源: as it says outright, else the level of the division that organised
    it, as its bureau's name says (湖北省荆州市市场监督管理局: 市抽; 贵州市场监管局: a province's, 省抽); None when
    it does not say."""
    tag = _LEVEL_TAG.search(task)
    if tag is not None:
        return _LEVEL_BY_TAG[tag[1]]
    if any(word in task for word in ("国家", "总局")):
        return SamplingLevel.NATIONAL
    found = _BUREAU.search(task)
    if found is None:  # no bureau named (湖北省荆州市食品安全监督抽检): the most specific division it names
        code = locate(task)
        if code is None:
            return None
        return _level_of(code)
    # The organiser is the name just before the bureau's: 国内监督抽查(贵州市场监管局) is 贵州's.
    return _organiser_level(re.split(r"[（(\[【\s:：]", task[: found.start()])[-1].strip())


def _organiser_level(organiser: str) -> SamplingLevel | None:
    """The level of a division by its name as a bureau's name carries it (贵州, 荆州市, 沙市区, 恩施州)."""
    if organiser and any(level_of(c) == "province" and r.name.startswith(organiser) for c, r in regions().items()):
        return SamplingLevel.PROVINCIAL  # a province's short name (贵州, 吉林, 海南): not a 州 nor a city
    for suffixes, level in _LEVEL_BY_SUFFIX:
        if organiser.endswith(suffixes):
            return level
    code = locate(organiser)
    if organiser.endswith("市") and code is None:
        return SamplingLevel.CITY
    return None if code is None else _level_of(code)


_SAMPLING_LEVEL = {"province": SamplingLevel.PROVINCIAL, "city": SamplingLevel.CITY, "county": SamplingLevel.COUNTY}


def _level_of(code: str) -> SamplingLevel:
    return _SAMPLING_LEVEL[level_of(code)]


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A row's verdict and revision: a 复检 row (by its sheet's title or its 备注) is revision 2 and replaces the
    sample's first announcement; 异议成立 or 不予判定 makes it void."""

    verdict: Verdict
    revision: int = 1
    retest: RetestStatus | None = None


# A 备注 that tells a 复检's outcome (复检合格, 经复检维持原检验结论); one that names a 复检 still to come or not
# asked for (企业已申请复检, 复检结果待定, 放弃复检) says nothing of it: that row is the first result.
_RETEST_OUTCOME = re.compile(r"经复检|维持原|复检(?:后|结果|结论)?(?:为|是|：|:)?\s*不?(?:合格|符合(?!性))")


def _outcome(verdict: Verdict, remark: str, retest_sheet: bool) -> _Outcome:
    if "异议成立" in remark or "不予判定" in remark:
        return _Outcome(Verdict.VOID, 2)
    if retest_sheet or _RETEST_OUTCOME.search(remark):
        return _Outcome(verdict, 2, RetestStatus.UPHELD if verdict is Verdict.FAIL else RetestStatus.OVERTURNED)
    return _Outcome(verdict)


def _food_class(text: dict[str, str | None]) -> str | None:
    """The SAMR 大类 the row's 分类 (else its 食品名称) names; the 分类 as written when it names none."""
    found = classify(text.get("subcategory"), text.get("product"))
    return found.major if found else text.get("subcategory")


def unclassified(event: InspectionResult) -> str | None:
    """A food event whose subcategory is not a SAMR 大类: the 分类 the import could not map (for its report)."""
    if event.category is not Category.FOOD or event.subcategory is None:
        return None
    return None if event.subcategory in {c.name for c in food_classes().classes} else event.subcategory


def _day(fields: dict[str, Any], name: str, columns: Mapping[str, str]) -> date:
    """The day in the field's cell; a rejection names the column, as the sheet's header spells it."""
    try:
        return parse_day(fields[name])
    except RowError as exc:
        raise RowError(f"{columns.get(name) or _COLUMN_NAMES[name]}: {exc}") from None


# The header a field is read from, for rejection reasons (the first spelling HEADERS lists).
_COLUMN_NAMES = {field: header for header, field in reversed(HEADERS.items())}


@dataclass(frozen=True, slots=True)
class _Read:
    event: InspectionResult
    former_place: str | None  # a former or short name that placed the row (铜梁县 -> 500151), for the summary


def _to_event(
    fields: dict[str, Any],
    verdict: Verdict,
    options: SamrOptions,
    file_key: str,
    retest_sheet: bool = False,
    columns: Mapping[str, str] | None = None,
) -> _Read:
    day_source = fields.get("sampled_date") or fields.get("notice_date")
    if not day_source:
        raise RowError("no date: 抽样日期 and 公告日期 are both empty, so the day the result counts for is unknown")
    columns = columns or {}
    day = _day(fields, "sampled_date" if fields.get("sampled_date") else "notice_date", columns)
    reported = _day(fields, "notice_date", columns) if fields.get("notice_date") else day
    text = {k: _text_of(v) for k, v in fields.items()}
    region, made_in, former = _places(text, options, day)
    outcome = _outcome(verdict, text.get("remark") or "", retest_sheet)
    failed = parse_failed_items(fields.get("failed_items")) if outcome.verdict is Verdict.FAIL else ()
    if outcome.verdict is Verdict.FAIL and not failed and fields.get("failed_items") in (None, ""):
        raise RowError("a 不合格 row without 不合格项目")
    task = text.get("task") or ""
    try:
        return _Read(
            InspectionResult(
                sample_id=sample_id_for(fields, file_key),
                revision=outcome.revision,
                sampled_at=local_noon(day, options.timezone),
                reported_at=local_noon(max(day, reported), options.timezone),
                category=options.category,
                subcategory=_food_class(text) if options.category is Category.FOOD else text.get("subcategory"),
                sampling_type=_sampling_type(str(fields.get("task") or ""), options.sampling_type),
                region_code=region,
                manufacturer_region_code=made_in,
                product=text.get("product"),
                brand=text.get("brand"),
                spec=text.get("spec"),
                batch=text.get("batch"),
                manufacturer=text.get("manufacturer"),
                sampled_unit=text.get("sampled_unit"),
                lab=text.get("lab"),
                verdict=outcome.verdict,
                failed_items=failed,
                source="import:samr",
                sampling_level=_sampling_level(task),
                task_source=text.get("task"),
                announcement_no=text.get("notice_no"),
                announcement_date=reported if fields.get("notice_date") else None,
                retest_status=outcome.retest,
                manufacturer_address=text.get("manufacturer_address"),
                sampled_unit_address=text.get("sampled_unit_address"),
            ),
            former,
        )
    except ValidationError as exc:
        raise row_error(exc) from exc


def _text_of(value: object) -> str | None:
    """A cell as the event's text: one line, a placeholder for "none" (/, ／, —) read as none, cut to 200."""
    text = absent_as_none(cell_text(value)) if value not in (None, "") else ""
    return text[:200] or None


def _places(text: dict[str, str | None], options: SamrOptions, day: date) -> tuple[str, str | None, str | None]:
    """Where it was sampled (the most specific division the sampled unit's address or name names, inside the
    province column's province; else that province) and where it was made (the manufacturer's address or name),
    with the former name that placed it, if one did: names are read as they were on the result's ``day``.
    An online shop (网络抽检) has no place: the manufacturer's, whose bureau follows the sample up, stands in."""
    column = place(text.get("province"), None, day)  # a province, or a county where the column names one (循化县)
    province = column.code[:2] + "0000" if column else None
    made = place_within((text.get("manufacturer_address"), text.get("manufacturer")), None, day)
    made_in = made.code if made else None
    if options.region_code is not None:
        return options.region_code, made_in, None
    found: Place | None = place_within((text.get("sampled_unit_address"), text.get("sampled_unit")), province, day)
    if found is None and column is not None and column.code != province:
        found = column
    sampled = found.code if found else province
    if sampled is None and made is not None:
        found, sampled = made, made.code
    if sampled is None:
        raise RowError(
            f"no place: the province {text.get('province')!r}, the sampled unit's and the manufacturer's"
            " addresses and names name no division of China, and no --region was given"
        )
    return sampled, made_in, found.former if found else None


# A second header row under a merged 不合格项目║检验结果║标准值 names its three columns; it is not data.
_SUBHEADERS = frozenset({"不合格项目", "检验项目", "检验结果", "实测值", "标准值", "标准要求", "单位"})


@dataclass(slots=True)
class _Header:
    """Where each field is read on a sheet: the columns a field spans (a merged header spans several), and the
    header cells no field is read from."""

    row: int
    spans: dict[str, list[int]]
    texts: dict[int, str]  # the header cells as written

    @classmethod
    def find(cls, row: int, cells: list[Any], mapped: Mapping[str, tuple[str, ...]]) -> _Header | None:
        """The header in ``cells``, if they name three fields at least: by HEADERS, or as a mapping file says."""
        spans: dict[str, list[int]] = {}
        for i, cell in enumerate(cells):
            text = normalise_header(cell)
            names = mapped[text] if text in mapped else (HEADERS[text],) if text in HEADERS else ()
            for name in names:
                spans.setdefault(name, []).append(i)
        texts = {i: cell_text(c) for i, c in enumerate(cells) if c not in (None, "")}
        return cls(row, spans, texts) if len(spans) >= 3 else None

    @property
    def columns(self) -> dict[str, str]:
        """Each field's header as this sheet writes it (its first column), for rejection reasons."""
        return {name: self.texts.get(spans[0], "") for name, spans in self.spans.items()}

    @property
    def unread(self) -> list[str]:
        """The header cells no field is read from, in column order."""
        read = {i for columns in self.spans.values() for i in columns}
        return [text for i, text in sorted(self.texts.items()) if i not in read]

    def settle_verdict(self, *, titled: bool) -> None:
        """A bare 结论 / 判定 column is the verdict on a sheet whose title gives none, else a column not read."""
        columns = self.spans.pop("verdict_if_untitled", [])
        if columns and not titled and "verdict" not in self.spans:
            self.spans["verdict"] = columns

    def fields(self, cells: list[Any]) -> dict[str, Any]:
        """The row's fields: a failed-items header over several columns joins them with ║ (item, result, limit);
        any other field repeated takes its first value."""
        fields: dict[str, Any] = {}
        for name, columns in self.spans.items():
            values = [cells[i] if i < len(cells) else None for i in columns]
            if name == "failed_items" and len(values) > 1:
                parts = [cell_text(v) for v in values]
                fields[name] = "║".join(parts) if any(parts) else None
            else:
                fields[name] = next((v for v in values if v not in (None, "")), None)
        return fields


def _is_subheader(cells: list[Any]) -> bool:
    texts = [normalise_header(c) for c in cells if c not in (None, "")]
    return bool(texts) and all(t in _SUBHEADERS for t in texts)


def read_samr(path: Path, options: SamrOptions) -> Iterator[RowOutcome]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise ImportFormatError("not a readable .xlsx workbook", file=str(path), error=str(exc)) from exc
    file_key = path.name if options.keys_by_file_name else ""
    found_any_sheet = False
    budget = TextBudget(str(path))
    try:
        _check_shared_strings(workbook, str(path))
        for sheet in workbook.worksheets:
            if sheet.sheet_state != "visible":
                yield SheetNote(str(path), sheet.title, "hidden in the workbook; imported all the same")
            # The sheet's stored dimension is written by whatever saved the file and may be stale: read-only mode
            # trusts it and would stop at its last row or column without a word.
            sheet.reset_dimensions()
            # Read-only workbooks keep the zip open; openpyxl has no public accessor for a sheet's XML path.
            ranges = _merged_ranges(
                workbook._archive,  # type: ignore[attr-defined]
                sheet._worksheet_path,  # type: ignore[attr-defined]
                str(path),
                sheet.title,
            )
            width = _Width()
            rows = _fill_merged(sheet.iter_rows(values_only=True), ranges, width, str(path), sheet.title)
            at = _SheetContext(str(path), sheet.title, options, file_key, width, budget)
            found_any_sheet |= yield from _read_sheet(at, rows)
    finally:
        workbook.close()
    if not found_any_sheet:
        raise ImportFormatError("no sheet with SAMR headers (序号, 食品名称, 被抽样单位名称 …)", file=str(path))


def _check_shared_strings(workbook: Any, file: str) -> None:
    """openpyxl has read the whole shared-string table by now; its size as the zip declares it (which bounds what
    unzipping yields) tells a text bomb from a table."""
    archive = workbook._archive
    sizes = [i.file_size for i in archive.infolist() if i.filename.lower().endswith("sharedstrings.xml")]
    if sum(sizes) > MAX_TEXT_PER_FILE:
        raise ImportFormatError(
            f"its shared strings unzip to {sum(sizes):,} bytes, more than the"
            f" {MAX_TEXT_PER_FILE:,} characters of text a file may have",
            file=file,
        )


@dataclass(frozen=True, slots=True)
class _SheetContext:
    file: str
    sheet: str
    options: SamrOptions
    file_key: str
    width: _Width
    budget: TextBudget


def read_table(
    file: str, rows: Iterator[tuple[Any, ...]], options: SamrOptions, file_key: str = ""
) -> Generator[RowOutcome, None, bool]:
    """A table from another source (a CSV file's rows) read as an announcement sheet, under the same limits, its
    header found as HEADERS or the options' mapping say; returns whether it had a header."""
    width = _Width()
    at = _SheetContext(file, "", options, file_key, width, TextBudget(file))
    return (yield from _read_sheet(at, _fill_merged(rows, [], width, file, "")))


def _read_sheet(at: _SheetContext, rows: Iterator[tuple[list[Any], bool]]) -> Generator[RowOutcome, None, bool]:
    """The sheet's rows as outcomes; returns whether it had a header."""
    header: _Header | None = None
    sheet_verdict = _sheet_verdict(at.sheet)
    filled = 0  # rows with a value of their own: blank rows (a stray cell at row 1,048,576) do not count
    for row_number, (cells, own) in enumerate(rows, 1):
        if not cells:
            continue
        filled += own
        if filled > MAX_ROWS_PER_SHEET:
            raise ImportFormatError(
                f"more than {MAX_ROWS_PER_SHEET:,} rows in sheet {at.sheet!r}: split the table", file=at.file
            )
        at.budget.spend(cells, f"sheet {at.sheet!r} row {row_number}")
        if header is None:
            header = _Header.find(row_number, cells, at.options.headers)
            if header is not None:
                # Past the header's last column nothing is read: merged ranges and raw rows stop there.
                at.width.columns = max(header.texts, default=0) + 1
                header.settle_verdict(titled=sheet_verdict is not None)
                if sheet_verdict is None and "verdict" not in header.spans:
                    # A title that says neither and no 检验结论 column: a 不合格项目 column means fails.
                    sheet_verdict = Verdict.FAIL if "failed_items" in header.spans else Verdict.PASS
                if unread := header.unread:
                    yield SheetNote(at.file, at.sheet, f"columns not read: {'、'.join(unread)}")
            elif row_number >= MAX_TITLE_ROWS:
                break
            continue
        if not own or all(c in (None, "") for c in cells) or (row_number == header.row + 1 and _is_subheader(cells)):
            continue
        yield _row(at, header, sheet_verdict, row_number, cells[: at.width.columns])
    if header is None:
        yield SheetNote(
            at.file,
            at.sheet,
            f"skipped: no SAMR header row (序号, 食品名称, 被抽样单位名称 …) in its first {MAX_TITLE_ROWS} rows",
        )
    return header is not None


def _row(
    at: _SheetContext, header: _Header, sheet_verdict: Verdict | None, row_number: int, cells: list[Any]
) -> RowOutcome:
    fields = header.fields(cells)
    try:
        verdict = _row_verdict(fields.get("verdict"), sheet_verdict) if "verdict" in header.spans else sheet_verdict
        assert verdict is not None  # noqa: S101 - set with the header row when there is no column
        retest = "复检" in at.sheet or "复检" in str(fields.get("verdict") or "")  # a 合格（复检） cell too
        read = _to_event(fields, verdict, at.options, at.file_key, retest_sheet=retest, columns=header.columns)
        return ImportRow(
            read.event,
            at.file,
            at.sheet,
            row_number,
            dated_by_announcement=not fields.get("sampled_date"),
            unclassified=unclassified(read.event),
            former_place=read.former_place,
        )
    except RowError as exc:
        raw = " | ".join("" if c is None else str(c) for c in cells)
        return Rejection(at.file, at.sheet, row_number, str(exc), raw)
