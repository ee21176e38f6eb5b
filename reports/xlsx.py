"""The workbook: one sheet per table, native Excel line charts against the target."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from reports.data import MonthlyReport
from reports.labels import MEASURE_LABELS, is_percent, target_text, window_label

TREND_COLUMNS = 13


def _pct(value: float | None, percent: bool) -> float | None:
    """Excel stores a percentage as a fraction; mean scores stay as they are."""
    if value is None:
        return None
    return value / 100 if percent else value


class _Workbook:
    """The workbook being written, its formats, and one method per sheet."""

    def __init__(self, report: MonthlyReport, path: Path) -> None:
        self.report = report
        self.book = xlsxwriter.Workbook(str(path))
        # A fixed creation date: the same month and data give the same file, byte for byte.
        self.book.set_properties({"title": f"{report.plan.title} {report.label}质量指标月报", "author": "qsmon",
                                  "created": datetime(report.year, report.month, 1)})  # noqa: DTZ001 - Excel's
        self.header = self.book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                            "valign": "vcenter"})
        self.title = self.book.add_format({"bold": True, "font_size": 14})
        self.pct = self.book.add_format({"num_format": "0.00%"})
        self.score = self.book.add_format({"num_format": "0.0"})
        self.pp = self.book.add_format({"num_format": "+0.00;-0.00;0.00"})

    def value_format(self, percent: bool) -> Any:
        return self.pct if percent else self.score

    def table(self, name: str, heading: str, columns: list[str], rows: list[list[Any]],
              row_formats: list[list[Any]] | None, widths: list[int]) -> Any:
        sheet = self.book.add_worksheet(name)
        sheet.write(0, 0, heading, self.title)
        sheet.write_row(2, 0, columns, self.header)
        sheet.freeze_panes(3, 1)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                fmt = row_formats[r][c] if row_formats else None
                if value is None:
                    sheet.write_blank(3 + r, c, None, fmt)  # no samples: an empty cell, not a zero
                else:
                    sheet.write(3 + r, c, value, fmt)
        for c, width in enumerate(widths):
            sheet.set_column(c, c, width)
        return sheet

    def indicators(self) -> None:
        rows, fmts = [], []
        for row in self.report.indicators:
            percent = is_percent(row.indicator)
            f = self.value_format(percent)
            rows.append([row.indicator.name, MEASURE_LABELS[row.indicator.measure.value],
                         _pct(row.month.value, percent), _pct(row.year_to_date.value, percent),
                         target_text(row.indicator), row.met, row.month.samples, row.month.failed,
                         _pct(row.month.low, percent), _pct(row.month.high, percent),
                         row.change_vs_previous, row.change_vs_last_year])
            fmts.append([None, None, f, f, None, None, None, None, f, f, self.pp, self.pp])
        self.table("指标完成情况", f"{self.report.plan.title} {self.report.label} 指标完成情况",
                   ["指标", "计量", "本月", "本年累计", "目标", "是否达标", "本月样本", "不合格", "置信区间下限(95%)",
                    "置信区间上限(95%)", "较上月(百分点/分)", "较去年同月(百分点/分)"], rows, fmts,
                   [34, 10, 10, 10, 18, 9, 9, 8, 12, 12, 12, 12])

    def categories(self) -> None:
        cats = self.report.categories
        self.table("分类", f"{self.report.label} 分类抽检情况",
                   ["类别", "细类", "检验批次", "合格", "不合格", "合格率"],
                   [[c.category, c.subcategory or "—", c.tested, c.passed, c.failed, _pct(c.pass_rate, True)]
                    for c in cats], [[None] * 5 + [self.pct] for _ in cats], [14, 16, 10, 10, 10, 10])

    def regions(self) -> None:
        regions = self.report.regions
        self.table("分地区", f"{self.report.label} 分地区完成情况(按差距排序)",
                   ["排名", "地区", "指标", "样本", "不合格", "本月", "目标", "差距(百分点)"],
                   [[i + 1, r.region_name, r.indicator.name, r.figure.samples, r.figure.failed,
                     _pct(r.figure.value, True), target_text(r.indicator), r.shortfall]
                    for i, r in enumerate(regions)],
                   [[None] * 5 + [self.pct, None, self.pp] for _ in regions], [6, 14, 34, 8, 8, 10, 14, 12])

    def trends(self) -> None:
        report = self.report
        months = [f"{y}-{m:02d}" for y, m in report.trend_months]
        sheet = self.table("趋势", f"近13个月趋势({months[0]} 至 {months[-1]})", ["指标", "目标", *months], [], None,
                           [34, 10] + [9] * TREND_COLUMNS)
        targets = self.book.add_worksheet("趋势_目标线")  # the charts' target lines
        targets.hide()
        for r, row in enumerate(report.indicators):
            indicator = row.indicator
            percent = is_percent(indicator)
            f = self.value_format(percent)
            sheet.write(3 + r, 0, indicator.name)
            target = indicator.target.value
            sheet.write(3 + r, 1, _pct(target, percent) if target is not None else "不断提高", f)
            for c, figure in enumerate(report.trends[indicator.id]):
                value = _pct(figure.value, percent)
                if value is None:
                    sheet.write_blank(3 + r, 2 + c, None, f)  # a month without samples is a gap, not a zero
                else:
                    sheet.write_number(3 + r, 2 + c, value, f)
            if target is not None:
                targets.write_row(r, 0, [_pct(target, percent)] * TREND_COLUMNS)
            if any(fig.value is not None for fig in report.trends[indicator.id]):
                chart = self._chart(r, indicator.name, percent, target is not None)
                sheet.insert_chart(5 + len(report.indicators) + r * 14, 0, chart)

    def _chart(self, row: int, name: str, percent: bool, with_target: bool) -> Any:
        chart = self.book.add_chart({"type": "line"})
        categories = ["趋势", 2, 2, 2, 1 + TREND_COLUMNS]
        chart.add_series({"name": "本月值", "categories": categories,
                          "values": ["趋势", 3 + row, 2, 3 + row, 1 + TREND_COLUMNS], "marker": {"type": "circle"}})
        if with_target:
            chart.add_series({"name": "目标", "categories": categories,
                              "values": ["趋势_目标线", row, 0, row, TREND_COLUMNS - 1],
                              "line": {"dash_type": "dash", "color": "#C00000"}})
        chart.set_title({"name": name, "name_font": {"size": 11}})
        chart.set_y_axis({"num_format": "0.0%" if percent else "0.0"})
        chart.show_blanks_as("gap")
        chart.set_size({"width": 620, "height": 260})
        return chart

    def failures(self) -> None:
        self.table("不合格明细", f"{self.report.label} 不合格样品明细",
                   ["抽样单编号", "抽样日期", "类别", "细类", "样品名称", "地区", "标称生产企业", "被抽样单位",
                    "检验机构", "不合格项目║检验结果(标准值)"],
                   [[f.sample_id, f.day.isoformat(), f.category, f.subcategory, f.product, f.region, f.manufacturer,
                     f.sampled_unit, f.lab, f.failed_items] for f in self.report.failures],
                   None, [22, 11, 10, 10, 14, 9, 22, 22, 26, 48])

    def alerts(self) -> None:
        self.table("告警", f"{self.report.label} 告警(本月开启、解决或月末仍未解决)",
                   ["编号", "指标", "地区", "窗口", "级别", "开启时间", "解决时间", "月末状态"],
                   [[a.alert_id, a.indicator, a.region, window_label(a.window),
                     "严重" if a.severity == "critical" else "警告", a.opened_at, a.resolved_at, a.status_at_month_end]
                    for a in self.report.alerts],
                   None, [8, 34, 10, 10, 6, 17, 17, 10])


def write_xlsx(report: MonthlyReport, path: Path) -> Path:
    book = _Workbook(report, path)
    for sheet in (book.indicators, book.categories, book.regions, book.trends, book.failures, book.alerts):
        sheet()
    book.book.close()
    return path
