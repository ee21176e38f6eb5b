"""The workbook: one sheet per table, native Excel line charts against the target."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from indicators.counting import shown
from indicators.labels import is_percent
from qsmon.escaping import SAFE_XLSX
from reports.data import MonthlyReport
from reports.tables import NO_DATA, Cell, Table, all_tables


def _number(cell: Cell) -> object:
    """A cell's value as Excel stores it: rates as the fraction of the rate as shown, differences as shown."""
    if cell.value is None or isinstance(cell.value, str) or cell.kind not in ("rate", "points"):
        return cell.value
    value = float(shown(cell.value) or 0)
    return value / 100 if cell.kind == "rate" else value


class _Workbook:
    """The workbook being written, its formats, and one method per sheet."""

    def __init__(self, report: MonthlyReport, path: Path) -> None:
        self.report = report
        self.book = xlsxwriter.Workbook(str(path), SAFE_XLSX)
        # A fixed creation date: the same month and data give the same file, byte for byte.
        self.book.set_properties(
            {
                "title": f"{report.plan.title} {report.label}质量指标月报",
                "author": "qsmon",
                "created": datetime(report.year, report.month, 1),  # noqa: DTZ001 - Excel's naive date
            }
        )
        self.header = self.book.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "vcenter"}
        )
        self.title = self.book.add_format({"bold": True, "font_size": 14})
        self.pct = self.book.add_format({"num_format": "0.00%"})  # Excel stores a percentage as a fraction
        self.score = self.book.add_format({"num_format": "0.0"})
        self.pp = self.book.add_format({"num_format": "+0.00;-0.00;0.00"})

    def cell_format(self, kind: str) -> Any:
        return {"rate": self.pct, "score": self.score, "points": self.pp}.get(kind)

    def table(self, table: Table) -> Any:
        sheet = self.book.add_worksheet(table.name)
        sheet.write(0, 0, table.title, self.title)
        sheet.write_row(2, 0, table.columns, self.header)
        sheet.freeze_panes(3, 1)
        for r, row in enumerate(table.rows):
            for c, cell in enumerate(row):
                fmt = self.cell_format(cell.kind)
                value = _number(cell)
                if value is None:
                    sheet.write_blank(3 + r, c, None, fmt)  # no samples: an empty cell, not a zero
                else:
                    sheet.write(3 + r, c, value, fmt)
        if not table.rows:
            sheet.write(3, 0, NO_DATA)
        for c, width in enumerate(table.widths):
            sheet.set_column(c, c, width)
        return sheet

    def trend_charts(self, sheet: Any, table: Table) -> None:
        """Under the 趋势 table: one line chart per indicator against its target line."""
        months = len(table.columns) - 2
        targets = self.book.add_worksheet("趋势_目标线")  # the charts' target lines
        targets.hide()
        for r, (row, indicator_row) in enumerate(zip(table.rows, self.report.indicators, strict=True)):
            target_cell, values = row[1], row[2:]
            with_target = target_cell.kind != "text"
            if with_target:
                target = target_cell.value / 100 if target_cell.kind == "rate" else target_cell.value
                targets.write_row(r, 0, [target] * months)
            if any(cell.value is not None for cell in values):
                chart = self._chart(
                    r, indicator_row.indicator.name, is_percent(indicator_row.indicator.measure), with_target, months
                )
                sheet.insert_chart(5 + len(table.rows) + r * 14, 0, chart)

    def _chart(self, row: int, name: str, percent: bool, with_target: bool, months: int) -> Any:
        chart = self.book.add_chart({"type": "line"})
        categories = ["趋势", 2, 2, 2, 1 + months]
        chart.add_series(
            {
                "name": "本月值",
                "categories": categories,
                "values": ["趋势", 3 + row, 2, 3 + row, 1 + months],
                "marker": {"type": "circle"},
            }
        )
        if with_target:
            chart.add_series(
                {
                    "name": "目标",
                    "categories": categories,
                    "values": ["趋势_目标线", row, 0, row, months - 1],
                    "line": {"dash_type": "dash", "color": "#C00000"},
                }
            )
        chart.set_title({"name": name, "name_font": {"size": 11}})
        chart.set_y_axis({"num_format": "0.0%" if percent else "0.0"})
        chart.show_blanks_as("gap")
        chart.set_size({"width": 620, "height": 260})
        return chart


def write_xlsx(report: MonthlyReport, path: Path) -> Path:
    book = _Workbook(report, path)
    for table in all_tables(report):
        sheet = book.table(table)
        if table.name == "趋势":
            book.trend_charts(sheet, table)
    book.book.close()
    return path
