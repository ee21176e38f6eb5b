"""Running an import: read files, send the valid rows, write the rejects, summarise."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TextIO

import orjson

from producers.exceptions import ImportFormatError
from producers.importers.base import ImportRow, Rejection, RowOutcome, SheetNote
from producers.importers.csv_mapped import load_mapping, read_csv
from producers.importers.ndjson import read_ndjson
from producers.importers.samr import SamrOptions, read_samr
from producers.kafka_sink import ResultSink
from qsmon import clock
from qsmon.escaping import csv_row
from qsmon.exceptions import InvalidResultError
from qsmon.regions import level_of, name_of

Format = Literal["samr", "csv", "ndjson"]


@dataclass
class ImportSummary:
    rows_read: int = 0
    valid: int = 0
    rejected: int = 0
    sent: int = 0
    dated_by_announcement: int = 0  # valid rows without 抽样日期, dated by their 公告日期
    unclassified: Counter[str] = field(default_factory=Counter)  # food 分类 naming no SAMR class, with their rows
    placed_in_county: int = 0  # valid rows whose place is a county (district, county-level city), not a city
    former_places: Counter[str] = field(default_factory=Counter)  # former or short names that placed rows
    rejections: list[Rejection] = field(default_factory=list)  # the first MAX_LISTED; all are in the rejects file
    sample_ids: list[str] = field(default_factory=list)
    notes: list[SheetNote] = field(default_factory=list)  # sheets skipped, columns not read, hidden sheets
    # Valid rows whose sample and revision an earlier row of this import already had: stored once, as the first.
    repeated: int = 0
    repeats: list[ImportRow] = field(default_factory=list)  # the first few, to name them
    _seen: set[int] = field(default_factory=set, repr=False)

    def count_valid(self, row: ImportRow, *, keep_id: bool) -> None:
        self.valid += 1
        self.dated_by_announcement += row.dated_by_announcement
        if row.unclassified:
            self.unclassified[row.unclassified] += 1
        self.placed_in_county += level_of(row.result.region_code) == "county"
        if row.former_place:
            self.former_places[f"{row.former_place}->{name_of(row.result.region_code)}"] += 1
        if keep_id:
            self.sample_ids.append(row.result.sample_id)
        key = hash((row.result.sample_id, row.result.revision))  # a hash, not the id: ~70 MB a million rows
        if key in self._seen:
            self.repeated += 1
            if len(self.repeats) < MAX_LISTED:
                self.repeats.append(row)
        self._seen.add(key)

    def count_rejected(self, rejection: Rejection, rejects: _RejectsFile | None) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_LISTED:  # a file of bad rows must not fill memory too
            self.rejections.append(rejection)
        if rejects is not None:
            rejects.write(rejection)

    def as_dict(self) -> dict[str, int]:
        return {
            "rows_read": self.rows_read,
            "valid": self.valid,
            "rejected": self.rejected,
            "sent": self.sent,
            "dated_by_announcement": self.dated_by_announcement,
            "unclassified_rows": sum(self.unclassified.values()),
            "repeated": self.repeated,
            "placed_in_county": self.placed_in_county,
            "placed_by_former_name": sum(self.former_places.values()),
            "sheet_notes": len(self.notes),
        }


MAX_LISTED = 50


def guess_format(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "samr"
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    if suffix == ".csv":
        return "csv"
    raise ImportFormatError("cannot tell the format from the file name; pass --format", file=str(path))


def read_file(path: Path, fmt: Format, *, mapping: Path | None, samr: SamrOptions) -> Iterator[RowOutcome]:
    if fmt == "samr":
        if mapping is not None:  # a workbook whose own column names a mapping file maps onto the announcement's
            loaded = load_mapping(mapping)
            if loaded.headers is None:
                raise ImportFormatError(
                    "a workbook's mapping names `headers:` (announcement fields), not `columns:`", file=str(mapping)
                )
            samr = loaded.samr_options(
                samr.timezone, keys_by_file_name=samr.keys_by_file_name, region_code=samr.region_code
            )
        return read_samr(path, samr)
    if fmt == "ndjson":
        return read_ndjson(path)
    if mapping is None:
        raise ImportFormatError(
            f"a CSV import needs --mapping FILE: `qsmon import {path.name} --suggest-mapping`"
            " writes one from its header for you to check (docs/imports.md)",
            file=str(path),
        )
    return read_csv(
        path,
        load_mapping(mapping),
        samr.timezone,
        keys_by_file_name=samr.keys_by_file_name,
        region_code=samr.region_code,
    )


def _plausible(outcome: ImportRow | Rejection, now: datetime) -> ImportRow | Rejection:
    """The worker would dead-letter a result from the future: reject it here, where the row number is known."""
    if isinstance(outcome, ImportRow):
        try:
            outcome.result.check_not_future(now)
        except InvalidResultError as exc:
            return Rejection(outcome.file, outcome.sheet, outcome.row, exc.message, outcome.result.sample_id)
    return outcome


def import_files(
    paths: list[Path],
    *,
    fmt: Format | None,
    sink: ResultSink | None,
    mapping: Path | None = None,
    samr: SamrOptions | None = None,
    rejects_path: Path | None = None,
    progress: Callable[[int], object] | None = None,
    keep_ids: bool = False,
    emit_path: Path | None = None,
) -> ImportSummary:
    """Send every valid row (``sink`` None: a dry run); a bad row never stops its neighbours. ``emit_path``: every
    valid row's event also written there as NDJSON, with its file, sheet and row, for a person to review."""
    summary = ImportSummary()
    rejects = _RejectsFile(rejects_path) if rejects_path else None
    emit = emit_path.open("wb") if emit_path else None
    now = clock.now()
    try:
        for path in paths:
            for read in read_file(path, fmt or guess_format(path), mapping=mapping, samr=samr or SamrOptions()):
                if isinstance(read, SheetNote):
                    summary.notes.append(read)
                    continue
                outcome = _plausible(read, now)
                summary.rows_read += 1
                if isinstance(outcome, ImportRow):
                    summary.count_valid(outcome, keep_id=keep_ids)
                    if emit is not None:
                        emit.write(emitted(outcome) + b"\n")
                    if sink is not None:
                        sink.send(outcome.result)
                else:
                    summary.count_rejected(outcome, rejects)
                if progress:
                    progress(1)
        if sink is not None:
            summary.sent = sink.flush()
    finally:
        for output in (rejects, emit):
            if output is not None:
                output.close()
    return summary


def emitted(row: ImportRow) -> bytes:
    """A valid row as one NDJSON line: where it was read (file, sheet, row) and the event that would be sent."""
    return orjson.dumps(
        {"file": row.file, "sheet": row.sheet or None, "row": row.row, "event": orjson.Fragment(row.result.to_json())}
    )


class _RejectsFile:
    """The rejected rows as CSV, created at the first one: an import without rejects leaves no file behind (nor
    empties one an earlier import wrote)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: TextIO | None = None
        self._writer: Any = None

    def write(self, rejection: Rejection) -> None:
        if self._writer is None:
            self._file = self._path.open("w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow(["file", "sheet", "row", "reason", "raw"])
        self._writer.writerow(
            csv_row([rejection.file, rejection.sheet or "", rejection.row, rejection.reason, rejection.raw])
        )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
