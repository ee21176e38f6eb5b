"""The report's tables, defined once: headers, rows and labels for the workbook, the CSV files and the PDF.

Cells carry their kind, so each format renders a number its own way (Excel: a fraction formatted as a percentage;
CSV: the percentage with four decimals) while the words, all from indicators.labels, stay the same everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from indicators.labels import counting_text, is_percent, label, target_text, window_label
from qsmon.plans.counting import Counting
from qsmon.schema import FailedItem
from reports.data import MonthlyReport

Kind = Literal["text", "count", "rate", "score", "points"]


@dataclass(frozen=True, slots=True)
class Cell:
    value: Any
    kind: Kind = "text"


@dataclass(frozen=True, slots=True)
class Table:
    name: str  # the sheet, and the CSV file's suffix
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    widths: Sequence[int]


def value_cell(value: float | None, percent: bool) -> Cell:
    return Cell(value, "rate" if percent else "score")


def items_text(items: Sequence[FailedItem]) -> str:
    """毒死蜱 0.12 mg/kg(标准 ≤0.02);…: the failed items of one sample."""
    parts = []
    for item in items:
        measured = " ".join(x for x in (item.measured, item.unit) if x)
        limit = f"(标准 {item.limit})" if item.limit else ""
        parts.append(" ".join(x for x in (item.item, measured) if x) + limit)
    return ";".join(parts)


def indicators(report: MonthlyReport) -> Table:
    rows = []
    for r in report.indicators:
        percent = is_percent(r.indicator.measure)
        rows.append([Cell(r.indicator.name), Cell(label(r.indicator.measure)), value_cell(r.month.value, percent),
                     value_cell(r.year_to_date.value, percent), Cell(target_text(r.indicator)), Cell(label(r.state)),
                     Cell(r.month.samples, "count"), Cell(r.month.failed, "count"), value_cell(r.month.low, percent),
                     value_cell(r.month.high, percent), Cell(r.change_vs_previous, "points"),
                     Cell(r.change_vs_last_year, "points"),
                     Cell(counting_text(Counting.of(report.plan, r.indicator)))])
    return Table("指标完成情况", f"{report.plan.title} {report.label} 指标完成情况",
                 ["指标", "计量", "本月", "本年累计", "目标", "状态", "本月样本", "不合格", "置信区间下限(95%)",
                  "置信区间上限(95%)", "较上月(百分点/分)", "较去年同月(百分点/分)", "统计口径"], rows,
                 [34, 12, 10, 10, 18, 9, 9, 8, 12, 12, 12, 12, 26])


def categories(report: MonthlyReport) -> Table:
    return Table("分类", f"{report.label} 分类抽检情况", ["类别", "细类", "检验批次", "合格", "不合格", "合格率"],
                 [[Cell(label(c.category)), Cell(c.subcategory or "—"), Cell(c.tested, "count"),
                   Cell(c.passed, "count"), Cell(c.failed, "count"), Cell(c.pass_rate, "rate")]
                  for c in report.categories], [14, 16, 10, 10, 10, 10])


def regions(report: MonthlyReport) -> Table:
    return Table("分地区", f"{report.label} 分地区完成情况(按差距排序)",
                 ["排名", "地区", "指标", "样本", "不合格", "本月", "目标", "差距(百分点)"],
                 [[Cell(i + 1, "count"), Cell(r.region_name), Cell(r.indicator.name), Cell(r.figure.samples, "count"),
                   Cell(r.figure.failed, "count"), Cell(r.figure.value, "rate"), Cell(target_text(r.indicator)),
                   Cell(r.shortfall, "points")] for i, r in enumerate(report.regions)],
                 [6, 14, 34, 8, 8, 10, 14, 12])


def trends(report: MonthlyReport) -> Table:
    months = [f"{y}-{m:02d}" for y, m in report.trend_months]
    rows = []
    for r in report.indicators:
        percent = is_percent(r.indicator.measure)
        target = r.indicator.target.value
        rows.append([Cell(r.indicator.name),
                     value_cell(target, percent) if target is not None else Cell(label(r.indicator.target.op)),
                     *[value_cell(f.value, percent) for f in report.trends[r.indicator.id]]])
    return Table("趋势", f"近13个月趋势({months[0]} 至 {months[-1]})", ["指标", "目标", *months], rows,
                 [34, 10] + [9] * len(months))


def failures(report: MonthlyReport) -> Table:
    return Table("不合格明细", f"{report.label} 不合格样品明细",
                 ["抽样单编号", "抽样日期", "类别", "细类", "样品名称", "地区", "标称生产企业", "被抽样单位",
                  "检验机构", "不合格项目║检验结果(标准值)"],
                 [[Cell(f.sample_id), Cell(f.day.isoformat()), Cell(label(f.category)), Cell(f.subcategory),
                   Cell(f.product), Cell(f.region), Cell(f.manufacturer), Cell(f.sampled_unit), Cell(f.lab),
                   Cell(items_text(f.items))] for f in report.failures],
                 [22, 11, 10, 10, 14, 9, 22, 22, 26, 48])


def alerts(report: MonthlyReport) -> Table:
    return Table("告警", f"{report.label} 告警(本月开启、解决或月末仍未解决)",
                 ["编号", "指标", "地区", "窗口", "级别", "开启时间", "解决时间", "月末状态"],
                 [[Cell(a.alert_id, "count"), Cell(a.indicator), Cell(a.region), Cell(window_label(a.window)),
                   Cell(label(a.severity)), Cell(a.opened_at), Cell(a.resolved_at),
                   Cell(OPEN_AT_MONTH_END[a.open_at_month_end])] for a in report.alerts],
                 [8, 34, 10, 10, 6, 17, 17, 10])


OPEN_AT_MONTH_END = {True: "未解决", False: "已解决"}


def cases(report: MonthlyReport) -> Table:
    rows = [[Cell(c.region), Cell(c.opened, "count"), Cell(c.closed, "count"), Cell(c.closed_on_time, "count"),
             Cell(c.overturned, "count"), Cell(c.open_at_month_end, "count"), Cell(c.overdue_at_month_end, "count")]
            for c in report.cases]
    if len(report.cases) > 1:
        totals = [sum(getattr(c, f) for c in report.cases) for f in
                  ("opened", "closed", "closed_on_time", "overturned", "open_at_month_end", "overdue_at_month_end")]
        rows.append([Cell("合计"), *(Cell(t, "count") for t in totals)])
    return Table("核查处置", f"{report.label} 不合格样品核查处置(期限依据见 qsmon/case_deadlines.yaml)",
                 ["地区", "本月立案", "本月办结", "其中按时办结", "改判撤销", "月末在办", "月末超期"], rows,
                 [12, 10, 10, 12, 10, 10, 10])


def corrections(report: MonthlyReport) -> Table:
    """上报后更正: figures of months already reported upward (qsmon months close) that late results changed."""
    rows = []
    for c in report.corrections:
        percent = is_percent(c.indicator.measure)
        rows.append([Cell(c.month.strftime("%Y-%m")), Cell(c.indicator.name), Cell(c.region_name),
                     Cell(c.reported.samples, "count"), Cell(c.current.samples, "count"),
                     Cell(c.reported.failed, "count"), Cell(c.current.failed, "count"),
                     value_cell(c.reported.value, percent), value_cell(c.current.value, percent),
                     Cell(c.change, "points")])
    return Table("上报后更正", f"{report.label} 上报后更正(已关账月份在上报后发生的变化)",
                 ["月份", "指标", "地区", "上报样本", "现样本", "上报不合格", "现不合格", "上报值", "现值",
                  "变化(百分点/分)"], rows, [9, 34, 10, 9, 9, 10, 9, 10, 10, 12])


def all_tables(report: MonthlyReport) -> list[Table]:
    return [indicators(report), categories(report), regions(report), trends(report), failures(report),
            alerts(report), cases(report), corrections(report)]
