"""Progress from the 核查处置情况 tables bureaus keep (xlsx or CSV): one row per step done. Columns, by header:
抽样编号 (the sample id, or 样品编号), 步骤 (a step's id or its Chinese name), 完成日期, 经办人, and optionally 备注,
附件 and 召回级别 (with the risk-control step). Each row is recorded through the same checks as the CLI and the API;
a bad row is reported with its row number and changes nothing, the others are recorded."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg

from cases.exceptions import CaseNotFoundError, StepRefusedError
from cases.store import Case, Progress, find_case, record_step
from producers.importers.base import RowError, cell_text, parse_day
from qsmon.case_rules import DeadlineTable

HEADERS = {
    "sample_id": ("抽样编号", "样品编号", "sample_id"),
    "step": ("步骤", "环节", "step"),
    "done_on": ("完成日期", "办结日期", "date"),
    "done_by": ("经办人", "承办人", "by"),
    "note": ("备注", "处置情况", "note"),
    "attachment": ("附件", "文书编号", "attachment"),
    "recall_level": ("召回级别", "recall_level"),  # with the risk-control step: 一级/二级/三级 or none
}
REQUIRED = ("sample_id", "step", "done_on", "done_by")


@dataclass
class ProgressReport:
    recorded: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def _rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    """(row number as the file numbers it, cells), the header row included."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            for number, sheet_row in enumerate(workbook.worksheets[0].iter_rows(values_only=True), start=1):
                yield number, list(sheet_row)
        finally:
            workbook.close()
    else:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for number, text_row in enumerate(csv.reader(handle), start=1):
                yield number, list(text_row)


def _columns(header: list[object]) -> dict[str, int]:
    names = [cell_text(h) if h is not None else "" for h in header]
    found = {key: names.index(alias) for key, aliases in HEADERS.items() for alias in aliases if alias in names}
    missing = [HEADERS[k][0] for k in REQUIRED if k not in found]
    if missing:
        raise RowError(f"header lacks {', '.join(missing)}")
    return found


@dataclass(frozen=True, slots=True)
class _Row:
    cells: list[object]
    columns: dict[str, int]

    def raw(self, key: str) -> object:
        index = self.columns.get(key)
        return self.cells[index] if index is not None and index < len(self.cells) else None

    def text(self, key: str) -> str:
        value = self.raw(key)
        return "" if value is None else cell_text(value)


def _step_id(table: DeadlineTable, case: Case, given: str, recall_level: str | None) -> str:
    rules = table.rules_for(case.category, case.recall_level or recall_level, assist=case.assist)
    if rules is None:
        return given
    for step in rules.steps:
        if given in (step.id, step.name):
            return step.id
    return given  # record_step names the known steps


def import_progress(
    conn: psycopg.Connection, table: DeadlineTable, path: Path, *, today: date, soon_working_days: int
) -> ProgressReport:
    report = ProgressReport()
    rows = _rows(path)
    columns: dict[str, int] | None = None
    for number, cells in rows:
        if columns is None:
            try:
                columns = _columns(cells)
            except RowError as exc:
                report.rejected.append((number, str(exc)))
                return report
            continue
        if all(c is None or cell_text(c) == "" for c in cells):
            continue
        row = _Row(cells, columns)
        try:
            day = parse_day(row.raw("done_on"))
            case = find_case(conn, row.text("sample_id"))
            level = row.text("recall_level") or None
            step = _step_id(table, case, row.text("step"), level)
            before = next((s.done_on for s in case.steps if s.step == step), None)
            record_step(
                conn,
                table,
                case.id,
                Progress(step, day, row.text("done_by"), row.text("note"), row.text("attachment") or None, level),
                today=today,
                via="import",
                soon_working_days=soon_working_days,
            )
        except (RowError, ValueError, CaseNotFoundError, StepRefusedError) as exc:
            report.rejected.append((number, str(exc)))
            continue
        if before == day:
            report.unchanged += 1
        else:
            report.recorded += 1
    return report
