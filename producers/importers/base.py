"""What every importer yields: an event, or a rejection that names the file, sheet and row."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from producers.exceptions import ImportFormatError
from qsmon.schema import FailedItem, InspectionResult, describe_error

# What one import may read: a published table has tens of columns and thousands of rows, a hostile one (a 2 KB
# workbook whose merged range spans XFD200000, a shared string of 32,000 characters in 16,384 cells) billions of
# cells. Past these the file is refused, saying which limit and where, before memory or disk run out.
MAX_ROWS_PER_SHEET = 100_000  # rows of a sheet (or a CSV file); a larger table is to be split
MAX_CELLS_PER_ROW = 1_000  # filled cells in one row
MAX_TEXT_PER_FILE = 100_000_000  # characters of all the cells read from one file
MAX_RAW = 1_024  # characters of a rejected row kept in the rejects file: enough to find it, no more


@dataclass(frozen=True, slots=True)
class Rejection:
    file: str
    sheet: str | None
    row: int  # as a spreadsheet numbers it (1-based; a CSV as Excel shows it), or the line of an NDJSON file
    reason: str
    raw: str = ""

    def __post_init__(self) -> None:
        if len(self.raw) > MAX_RAW:
            object.__setattr__(self, "raw", self.raw[: MAX_RAW - 1] + "…")

    def where(self) -> str:
        sheet = f" sheet {self.sheet!r}" if self.sheet else ""
        return f"{self.file}{sheet} row {self.row}"


@dataclass(frozen=True, slots=True)
class ImportRow:
    result: InspectionResult
    file: str
    sheet: str | None
    row: int
    # The row had no 抽样日期: sampled_at is the announcement day, so plans counting by sampling date see it late.
    dated_by_announcement: bool = False
    unclassified: str | None = None  # a food row's 分类 that names no SAMR class (qsmon.food_classes), kept as is
    former_place: str | None = None  # a division's former or short name that placed the row (铜梁县, 焉耆县)


@dataclass(frozen=True, slots=True)
class SheetNote:
    """Something about a sheet the person importing should know, which rejects no row: a sheet skipped for want of
    a header, columns not read, a hidden sheet."""

    file: str
    sheet: str
    note: str

    def where(self) -> str:
        return f"{self.file} sheet {self.sheet!r}" if self.sheet else self.file  # a CSV has no sheet


RowOutcome = ImportRow | Rejection | SheetNote


class TextBudget:
    """The characters a file's cells have used of MAX_TEXT_PER_FILE; ``spend`` refuses the file past it."""

    def __init__(self, file: str, limit: int = MAX_TEXT_PER_FILE) -> None:
        self._file = file
        self._left = limit

    def spend(self, cells: Iterable[object], where: str) -> None:
        self._left -= sum(len(c) if isinstance(c, str) else 8 for c in cells if c is not None)
        if self._left < 0:
            raise ImportFormatError(
                f"more than {MAX_TEXT_PER_FILE:,} characters of text (at {where}): not a table"
                " qsmon imports whole; split it",
                file=self._file,
            )


class RowError(ValueError):
    """A cell that cannot become part of an event; the message is the rejection reason."""


# Published workbooks wrap long names and units inside cells; a wrap is layout, not content. Text copied from web
# pages carries zero-width spaces and byte-order marks: invisible, so dropped.
_WRAPS = re.compile(r"[ \t]*[\r\n\t\u2028\u2029]+[ \t]*")
# No-break, full-width (ideographic) and other typographic spaces are spaces; runs of spaces are one.
_SPACES = re.compile(r"[ \u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff]")


def cell_text(value: object) -> str:
    """A cell as one line of text: line breaks, tabs and typographic spaces (no-break, full-width) inside it become
    single spaces, zero-width ones go.

    Any other control character (NUL, a direction override) stays, so the event's text rule rejects the row and
    says which field.
    """
    return _SPACES.sub(" ", _WRAPS.sub(" ", _INVISIBLE.sub("", str(value)))).strip()


# What tables write in a cell that means "none": a slash (half or full width), dashes, 无.
_ABSENT = frozenset({"/", "／", "-", "—", "——", "--", "无", "无/", "N/A"})


def absent_as_none(text: str) -> str:
    """A placeholder for "none" becomes the empty string (then no value); any other text is kept."""
    return "" if text.strip() in _ABSENT else text


def row_error(exc: ValidationError) -> RowError:
    """The event model's first complaint about a row, as its rejection reason (``field: message``)."""
    return RowError(describe_error(exc.errors(include_url=False)[0], whole="row"))


_DATE_PATTERNS = (
    re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"),
    re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日?"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
    re.compile(r"^(?P<y>\d{2})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日?"),  # 17年9月2日: two-digit year
)
# Excel stores dates as days since 1899-12-30 when a cell is not formatted as a date.
_EXCEL_EPOCH = date(1899, 12, 30)


def parse_day(value: object) -> date:
    """A calendar day from the ways bureaus write it: 2024-03-05, 2024/3/5, 2024年3月5日, 20240305, serials."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and 20_000 < value < 80_000:
        return _EXCEL_EPOCH + timedelta(days=int(value))
    text = str(value or "").strip()
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            year = int(match["y"])
            year = year + 2000 if year < 100 else year
            try:
                return date(year, int(match["m"]), int(match["d"]))
            except ValueError as exc:
                raise RowError(f"not a calendar day: {text!r}") from exc
    raise RowError(f"unreadable date: {text!r}")


def local_noon(day: date, timezone: str) -> datetime:
    """A day without a time of day: local noon keeps it on the same local day whatever the reader's zone."""
    return datetime.combine(day, time(12), ZoneInfo(timezone))


_MEASURED = re.compile(
    r"^\s*(?P<value>[<>≤≥]?\s*[-+]?\d[\d.,]*(?:\s*[×xX]\s*10\s*\^?[⁰¹²³⁴⁵⁶⁷⁸⁹\d-]+)?)\s*"
    r"(?P<unit>[^\d\s].*)?$"
)


# Full-width comparison signs (＜10CFU/g) as the ASCII ones; not NFKC, which would read 10⁵ as 105.
_SIGNS = str.maketrans({"＜": "<", "＞": ">", "＝": "="})


def _is_measurement(text: str) -> bool:
    """A number with perhaps a sign, an exponent and a unit (＜10CFU/g, 1.3×10⁵, ≤0.02mg/kg)."""
    return _MEASURED.match(text.translate(_SIGNS)) is not None


def split_unit(text: str) -> tuple[str, str | None]:
    """'0.161g/kg' -> ('0.161', 'g/kg'); free text such as '检出' stays whole."""
    text = text.translate(_SIGNS)
    match = _MEASURED.match(text)
    if not match:
        return text.strip(), None
    unit = (match["unit"] or "").strip() or None
    return match["value"].replace(" ", ""), unit


_ITEM_BREAK = re.compile(r"([\n；;]+)")
_FIELD_SEPARATOR = re.compile(r"[║|]")
# What numbers one of several values: ①…⑳, 1、 (1) — not part of the value.
_ENUMERATOR = re.compile(r"^\s*(?:[\u2460-\u2473]|\(?\d{1,2}[)）、]|（\d{1,2}）)\s*")
# Scraped tables write exponents as HTML: 10<sup>4</sup>.
_SUPERSCRIPT = re.compile(r"<sup>\s*([-\d]+)\s*</sup>", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_UNIT_WORD = re.compile(r"[A-Za-zμ%‰\u4e00-\u9fff]")
# Between values: ； ; 、 or a comma that is not a thousands separator (1,200CFU/g is one value).
_VALUE_SEPARATOR = re.compile(r"\s*(?:[；;、]|[,，](?!\d{3}(?:\D|$)))\s*")


def _starts_item(segment: str, current: str) -> bool:
    """Whether a line of a failed-items cell starts the next item rather than continuing the current one. It does
    when the current item already has its three fields, or when it names an item before its first ║: Chinese
    words, not a measurement (n=5 microbiology values run over lines, numbered ①…⑤) nor a unit wrapped onto the
    next line (mg/kg║…)."""
    if not current:
        return True
    fields = _FIELD_SEPARATOR.split(segment)
    if len(fields) == 1:  # no separator: more of the current item's result or limit
        return False
    if len(_FIELD_SEPARATOR.findall(current)) >= 2:
        return True
    head = _ENUMERATOR.sub("", fields[0])
    return bool(_CJK.search(head)) and not _is_measurement(head)


def _items_of(text: str) -> list[str]:
    """The cell cut into items. Lines and ； separate items, and also the values of one result and the parts of one
    limit (n=5,c=2,m=10²CFU/g,\nM=10³CFU/g): a line that does not start an item is joined to the one before."""
    pieces = _ITEM_BREAK.split(text)
    segments, breaks = pieces[::2], [*pieces[1::2], ""]
    if not any(_FIELD_SEPARATOR.search(s) for s in segments):
        return [s.strip() for s in segments if s.strip()]  # names only: 铅；镉
    items: list[str] = []
    current = ""
    for raw_segment, after in zip(segments, breaks, strict=True):
        segment = raw_segment.strip()
        if not segment:
            continue
        if _starts_item(segment, current):
            if current:
                items.append(current)
            current = segment
        else:
            current += segment
        current += "；" if ("；" in after or ";" in after) else " "
    if current:
        items.append(current)
    return [item.strip().rstrip("；") for item in items]


def measurement(result: str) -> tuple[str | None, str | None]:
    """(measured, unit) of a result cell: '0.161g/kg' -> ('0.161', 'g/kg'); several values (n=5, numbered or not,
    separated by ； or ,) stay as written, with the unit they share; free text ('检出') stays whole."""
    text = _SUPERSCRIPT.sub(r"^\1", result).strip()
    if not text:
        return None, None
    values = [_ENUMERATOR.sub("", v) for v in _VALUE_SEPARATOR.split(text) if v.strip()]
    if len(values) > 1 and all(_is_measurement(v) for v in values):
        units = [split_unit(v)[1] for v in values]
        return "；".join(values)[:200], next((u for u in reversed(units) if u), None)
    return split_unit(text)


def failed_item(item: str, result: str | None, limit: str | None, unit: str | None = None) -> FailedItem:
    """One failed item from its cells (each already one line): both importers build them so."""
    measured, measured_unit = measurement(result) if result else (None, None)
    unit = unit or measured_unit
    if limit and unit is None:
        _, unit = split_unit(limit.lstrip("≤≥<>"))
        unit = unit if unit and _UNIT_WORD.search(unit) else None  # 4.0-6.0 is a range, not a unit "-6.0"
    return FailedItem(
        item=item[:200],
        measured=measured[:200] if measured else None,
        limit=limit[:200] if limit else None,
        unit=unit[:32] if unit else None,
    )


def parse_failed_items(cell: object) -> tuple[FailedItem, ...]:
    """The SAMR column 不合格项目║检验结果║标准值: fields separated by ║ or |, items by lines or ；(see _items_of)."""
    text = str(cell or "").strip()
    if not text:
        return ()
    items = []
    for part in _items_of(text):
        fields = [cell_text(f) for f in _FIELD_SEPARATOR.split(part)]
        if not fields or not fields[0]:
            continue
        items.append(
            failed_item(
                _ENUMERATOR.sub("", fields[0]),
                fields[1] if len(fields) > 1 else None,
                fields[2] if len(fields) > 2 else None,
            )
        )
    return tuple(items[:100])
