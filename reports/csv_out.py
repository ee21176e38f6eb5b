"""The report's tables as CSV, UTF-8 with BOM so Excel opens the Chinese correctly."""

from __future__ import annotations

import csv
from pathlib import Path

from qsmon.escaping import csv_row
from reports.data import MonthlyReport
from reports.tables import NO_DATA, Table, all_tables, plain


def _write(path: Path, table: Table) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(csv_row(table.columns))
        for row in table.rows:  # firm names and items come from outside: never a formula in Excel
            writer.writerow(csv_row(plain(cell) for cell in row))
        if not table.rows:
            writer.writerow([NO_DATA])
    return path


def write_csv(report: MonthlyReport, directory: Path, stem: str) -> list[Path]:
    return [_write(directory / f"{stem}-{table.name}.csv", table) for table in all_tables(report)]
