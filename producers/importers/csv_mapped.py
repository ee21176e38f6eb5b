"""Any CSV, with a mapping file from its columns to the event.

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
encoding: utf-8-sig
```
Without a ``sample_id`` column, the key is a hash of the file name and the row's mapped values: re-importing the
same file gives the same keys.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from producers.exceptions import ImportFormatError
from producers.importers.base import (
    ImportRow,
    Rejection,
    RowError,
    RowOutcome,
    cell_text,
    local_noon,
    parse_day,
    row_error,
    split_unit,
)
from qsmon.schema import FailedItem, InspectionResult, safe_sample_id

_DATE_FIELDS = ("sampled_at", "reported_at")


class CsvMapping(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: dict[str, str]
    constants: dict[str, Any] = {}
    values: dict[str, dict[str, str]] = {}
    failed_items: dict[str, str] | None = None
    encoding: str = "utf-8-sig"
    delimiter: str = ","


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
            data[field] = local_noon(parse_day(data[field]), timezone).isoformat()
    data.setdefault("reported_at", data.get("sampled_at"))
    if mapping.failed_items and data.get("verdict") == "fail":
        spec = mapping.failed_items
        item = (row.get(spec.get("item", ""), "") or "").strip()
        if item:
            measured_raw = (row.get(spec.get("measured", ""), "") or "").strip()
            measured, unit = split_unit(measured_raw) if measured_raw else (None, None)
            unit = (row.get(spec.get("unit", ""), "") or "").strip() or unit
            limit = (row.get(spec.get("limit", ""), "") or "").strip() or None
            data["failed_items"] = [FailedItem(item=item[:200], measured=measured, limit=limit,
                                               unit=unit[:32] if unit else None).model_dump()]
    if "sample_id" in data:
        data["sample_id"] = safe_sample_id(str(data["sample_id"]))
    else:
        identity = "|".join(f"{k}={row.get(c, '')}" for k, c in sorted(mapping.columns.items()))
        data["sample_id"] = "CSV-" + hashlib.sha256(f"{file_key}|{identity}".encode()).hexdigest()[:24]
    data.setdefault("source", "import:csv")
    try:
        return InspectionResult.model_validate(data)
    except ValidationError as exc:
        raise row_error(exc) from exc


def read_csv(path: Path, mapping: CsvMapping, timezone: str) -> Iterator[RowOutcome]:
    try:
        handle = path.open(encoding=mapping.encoding, newline="")
    except OSError as exc:
        raise ImportFormatError("cannot open CSV", file=str(path), error=exc.strerror) from exc
    with handle:
        reader = csv.DictReader(handle, delimiter=mapping.delimiter)
        if reader.fieldnames is None:
            raise ImportFormatError("CSV has no header row", file=str(path))
        missing = sorted(set(mapping.columns.values()) - set(reader.fieldnames))
        if missing:
            raise ImportFormatError("mapped columns not in the CSV header", file=str(path), missing=missing)
        for row in reader:
            line = reader.line_num  # the row's last physical line: cells may hold newlines
            try:
                yield ImportRow(_row_to_event(row, mapping, path.name, timezone), str(path), None, line)
            except (RowError, ValueError) as exc:
                yield Rejection(str(path), None, line, str(exc), ",".join(row.values() if row else []))
