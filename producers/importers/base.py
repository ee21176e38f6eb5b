"""What every importer yields: an event, or a rejection that names the file, sheet and row."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from qsmon.schema import FailedItem, InspectionResult, describe_error


@dataclass(frozen=True, slots=True)
class Rejection:
    file: str
    sheet: str | None
    row: int  # as the spreadsheet numbers it (1-based), or the line number of a text file
    reason: str
    raw: str = ""

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


RowOutcome = ImportRow | Rejection


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


_MEASURED = re.compile(r"^\s*(?P<value>[<>≤≥]?\s*[-+]?\d[\d.,]*(?:\s*[×xX]\s*10\s*\^?[⁰¹²³⁴⁵⁶⁷⁸⁹\d-]+)?)\s*"
                       r"(?P<unit>[^\d\s].*)?$")


def split_unit(text: str) -> tuple[str, str | None]:
    """'0.161g/kg' -> ('0.161', 'g/kg'); free text such as '检出' stays whole."""
    match = _MEASURED.match(text)
    if not match:
        return text.strip(), None
    unit = (match["unit"] or "").strip() or None
    return match["value"].replace(" ", ""), unit


def parse_failed_items(cell: object) -> tuple[FailedItem, ...]:
    """The SAMR column 不合格项目║检验结果║标准值: one item per line (or ；), fields separated by ║ or |."""
    text = str(cell or "").strip()
    if not text:
        return ()
    items = []
    for part in re.split(r"[\n；;]+", text):
        fields = [f.strip() for f in re.split(r"[║|]", part)]
        if not fields or not fields[0]:
            continue
        measured, unit = split_unit(fields[1]) if len(fields) > 1 and fields[1] else (None, None)
        limit = fields[2] if len(fields) > 2 and fields[2] else None
        if limit and unit is None:
            _, unit = split_unit(limit.lstrip("≤≥<>"))
        items.append(FailedItem(item=fields[0][:200], measured=measured, limit=limit, unit=unit[:32] if unit else None))
    return tuple(items[:100])
