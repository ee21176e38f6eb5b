"""Any CSV, with a mapping file from its columns to the announcement's fields (``headers:``, read by the announcement
reader: docs/imports.md) or, the older form, to the event's fields:

```yaml
columns:            # event field: CSV column
  sample_id: 抽样编号
  product: 物料名称
  sampled_at: 发布日期
  verdict: 判定
  subcategory: 产品分类
constants:          # event field: value for every row
  category: food
  sampling_type: supervisory
  region_code: "420000"
values:             # event field: {CSV value: event value}
  verdict: {合格: pass, 不合格: fail}
failed_items: {item: 检测项目, measured: 检测结果, limit: 限量值, unit: 单位}   # optional
encoding: gbk        # optional; by default UTF-8 (with or without a BOM), else GB18030 (Excel's CSV on Chinese Windows)
```
Without a ``sample_id`` column, the key is a hash of the row's mapped values: re-importing the file, or a renamed
copy of it, gives the same keys. Rows are numbered as a spreadsheet shows the file (the header is row 1), whatever
line breaks their cells hold.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from producers.exceptions import ImportFormatError
from producers.importers.base import (
    MAX_ROWS_PER_SHEET,
    ImportRow,
    Rejection,
    RowError,
    RowOutcome,
    TextBudget,
    cell_text,
    failed_item,
    local_noon,
    parse_day,
    row_error,
)
from producers.importers.samr import SamrOptions, read_table
from qsmon.schema import InspectionResult, safe_sample_id
from qsmon.vocab import Category, SamplingType

_DATE_FIELDS = ("sampled_at", "reported_at")


class MappingOptions(BaseModel):
    """What every row of an announcement-mapped table shares, when the table does not say."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: Category = Category.FOOD
    region_code: str | None = None
    sampling_type: SamplingType | None = None


class CsvMapping(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Announcement fields (docs/imports.md): the table is read as an announcement sheet.
    headers: dict[str, list[str]] | None = None
    options: MappingOptions = MappingOptions()
    # Event fields (the older form): each column is an event field as is.
    columns: dict[str, str] = {}
    constants: dict[str, Any] = {}
    values: dict[str, dict[str, str]] = {}
    failed_items: dict[str, str] | None = None
    encoding: str = "auto"
    delimiter: str = ","

    @field_validator("headers", mode="before")
    @classmethod
    def _as_lists(cls, value: Any) -> Any:
        """A column read as one field may say it bare, as no field null or []."""
        if not isinstance(value, dict):
            return value
        return {str(k): [] if v is None else [v] if isinstance(v, str) else v for k, v in value.items()}

    @model_validator(mode="after")
    def _one_form(self) -> CsvMapping:
        if (self.headers is None) == (not self.columns):
            raise ValueError("a mapping has `headers:` (announcement fields) or `columns:` (event fields), one of them")
        return self

    def samr_options(
        self, timezone: str, *, keys_by_file_name: bool = False, region_code: str | None = None
    ) -> SamrOptions:
        """The announcement reader's options: the mapping's, with ``region_code`` (the command's --region) first."""
        from producers.importers.mapping import check_fields

        return SamrOptions(
            category=self.options.category,
            region_code=region_code or self.options.region_code,
            sampling_type=self.options.sampling_type,
            timezone=timezone,
            keys_by_file_name=keys_by_file_name,
            headers=check_fields(self.headers or {}),
        )


def load_mapping(path: Path) -> CsvMapping:
    try:
        return CsvMapping.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ImportFormatError("invalid mapping file", file=str(path), error=str(exc)) from exc


def _row_to_event(row: dict[str, str], mapping: CsvMapping, file_key: str, timezone: str) -> InspectionResult:
    data: dict[str, Any] = dict(mapping.constants)
    for field, column in mapping.columns.items():
        if column not in row:
            raise RowError(f"column {column!r} (for {field}) is missing")
        value = cell_text(row[column] or "")
        value = mapping.values.get(field, {}).get(value, value)
        if value != "":
            data[field] = value
    for field in _DATE_FIELDS:
        if field in data and isinstance(data[field], str) and "T" not in data[field]:
            try:
                data[field] = local_noon(parse_day(data[field]), timezone).isoformat()
            except RowError as exc:
                raise RowError(f"{mapping.columns.get(field, field)}: {exc}") from None
    data.setdefault("reported_at", data.get("sampled_at"))
    try:
        if mapping.failed_items and data.get("verdict") == "fail":
            data["failed_items"] = _failed_items(row, mapping.failed_items)
        if "sample_id" in data:
            data["sample_id"] = safe_sample_id(str(data["sample_id"]))
        else:
            identity = "|".join(f"{k}={row.get(c, '')}" for k, c in sorted(mapping.columns.items()))
            data["sample_id"] = "CSV-" + hashlib.sha256(f"{file_key}|{identity}".encode()).hexdigest()[:24]
        data.setdefault("source", "import:csv")
        return InspectionResult.model_validate(data)
    except ValidationError as exc:
        raise row_error(exc) from exc


def _failed_items(row: Mapping[str, str | None], spec: dict[str, str]) -> list[dict[str, Any]]:
    """The row's failed item from its mapped columns, as one line each (cells wrap long results and limits)."""

    def cell(name: str) -> str:
        return cell_text(row.get(spec.get(name, ""), "") or "")

    item = cell("item")
    if not item:
        return []
    return [failed_item(item, cell("measured") or None, cell("limit") or None, cell("unit") or None).model_dump()]


_READ_BYTES = 1 << 20


def detect_encoding(path: Path, configured: str) -> str:
    """The mapping's encoding; by default UTF-8 (BOM or not) when the whole file decodes as UTF-8, else GB18030
    (Excel's CSV on Chinese Windows: GBK, which GB18030 contains). Decoded in chunks: ASCII for its first
    megabytes and Chinese further down is still found."""
    if configured != "auto":
        return configured
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as f:
        try:
            while chunk := f.read(_READ_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig"


def read_csv(
    path: Path, mapping: CsvMapping, timezone: str, *, keys_by_file_name: bool = False, region_code: str | None = None
) -> Iterator[RowOutcome]:
    try:
        encoding = detect_encoding(path, mapping.encoding)
        handle = path.open(encoding=encoding, newline="")
    except OSError as exc:
        raise ImportFormatError("cannot open CSV", file=str(path), error=exc.strerror) from exc
    file_key = path.name if keys_by_file_name else ""
    if mapping.headers is not None:
        options = mapping.samr_options(timezone, keys_by_file_name=keys_by_file_name, region_code=region_code)
        yield from _read_as_announcement(path, handle, mapping, options)
        return
    row_number = 0
    try:
        with handle:
            # csv.reader, not DictReader: it yields blank lines too, so rows are numbered as Excel shows them (a
            # quoted cell over several lines is one row, a blank line is a row).
            reader = csv.reader(handle, delimiter=mapping.delimiter)
            header = next(reader, None)
            row_number = 1
            if not header:
                raise ImportFormatError("CSV has no header row", file=str(path))
            header[0] = header[0].lstrip("\ufeff")
            missing = sorted(set(mapping.columns.values()) - set(header))
            if missing:
                raise ImportFormatError("mapped columns not in the CSV header", file=str(path), missing=missing)
            budget = TextBudget(str(path))
            for cells in reader:
                row_number += 1
                if row_number > MAX_ROWS_PER_SHEET:
                    raise ImportFormatError(f"more than {MAX_ROWS_PER_SHEET:,} rows: split the file", file=str(path))
                budget.spend(cells, f"row {row_number}")
                if not any(c.strip() for c in cells):
                    continue
                # A short row's missing cells are empty; a long row keeps its extras (in the rejects file).
                padded = [*cells, *[""] * (len(header) - len(cells))]
                if len(cells) > len(header):  # its cells would sit under the wrong headers
                    yield Rejection(
                        str(path),
                        None,
                        row_number,
                        f"{len(cells)} cells in a row under {len(header)} headers: a comma inside an unquoted cell?",
                        ",".join(padded),
                    )
                    continue
                try:
                    yield ImportRow(
                        _row_to_event(dict(zip(header, padded, strict=True)), mapping, file_key, timezone),
                        str(path),
                        None,
                        row_number,
                    )
                except (RowError, ValueError) as exc:
                    yield Rejection(str(path), None, row_number, str(exc), ",".join(padded))
    except UnicodeDecodeError as exc:
        raise ImportFormatError(
            f"the CSV is not {encoding} text after row {row_number}: set `encoding:` in the"
            " mapping (gbk, gb18030, utf-8)",
            file=str(path),
        ) from exc
    except csv.Error as exc:  # a cell over csv's field limit (131,072 characters): an unclosed quote, as a rule
        raise ImportFormatError(
            f"the CSV cannot be read past row {row_number}: {exc} (a quote left open?)", file=str(path)
        ) from exc


def _read_as_announcement(
    path: Path, handle: TextIO, mapping: CsvMapping, options: SamrOptions
) -> Iterator[RowOutcome]:
    """The CSV read by the announcement reader, its columns named by the mapping's ``headers``."""
    rows = (tuple(cells) for cells in csv.reader(handle, delimiter=mapping.delimiter))
    try:
        with handle:
            found = yield from read_table(str(path), rows, options, path.name if options.keys_by_file_name else "")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(
            "the CSV is not text in its encoding: set `encoding:` in the mapping (gbk, gb18030, utf-8)", file=str(path)
        ) from exc
    except csv.Error as exc:
        raise ImportFormatError(f"the CSV cannot be read: {exc} (a quote left open?)", file=str(path)) from exc
    if not found:
        raise ImportFormatError("no header row naming three of the mapping's columns in its first rows", file=str(path))
