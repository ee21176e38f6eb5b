"""The report's tables, defined once: headers, rows and labels for the workbook, the CSV files and the PDF.

Cells carry their kind, so each format renders a number its own way (Excel: a fraction formatted as a percentage;
CSV: the percentage with two decimals, as bulletins print it) while the words, all from indicators.labels, stay the
same everywhere. Every rate and difference goes out as shown (indicators.counting.shown): the figures a reader
checks by hand come out the same in every format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from indicators.counting import APART, points, shown
from indicators.labels import counting_text, is_percent, label, target_text, window_label
from qsmon.plans.counting import Counting
from qsmon.schema import FailedItem
from qsmon.vocab import LABELS, SamplingType, Stage
from reports.analysis import analysis
from reports.bulletin import GroupRow, Tally, change, sum_rows
from reports.data import MonthlyReport
from reports.risk_notes import item_notes
from reports.typeset import fullwidth

Kind = Literal["text", "count", "rate", "score", "points"]


@dataclass(frozen=True, slots=True)
class Cell:
    value: Any
    kind: Kind = "text"


def plain(cell: Cell) -> object:
    """A cell's value for a text format (CSV): numbers as shown, two decimals; None as an empty string."""
    if cell.value is None:
        return ""
    if cell.kind in ("rate", "points", "score") and not isinstance(cell.value, str):
        return shown(cell.value)  # a Decimal: CSV writes -0.03, never a text a spreadsheet would read as a formula
    return cell.value


def printed(cell: Cell) -> str:
    """A cell as the PDF prints it: 97.80%, +0.76, 82.1, — for none."""
    if cell.value is None:
        return "—"
    if isinstance(cell.value, str):
        return cell.value
    if cell.kind == "rate":
        return f"{shown(cell.value)}%"
    if cell.kind == "points":
        value = shown(cell.value)
        return f"+{value}" if value is not None and value > 0 else str(value)
    if cell.kind == "score":
        return f"{cell.value:.1f}"
    return str(cell.value)


NO_DATA = "本月无数据"  # a table without rows says so, in every format
NOT_APART = "不含" + "、".join(LABELS[t] for t in APART)


@dataclass(frozen=True, slots=True)
class Table:
    name: str  # the sheet, and the CSV file's suffix
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    widths: Sequence[int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", fullwidth(self.title))
        object.__setattr__(self, "columns", [fullwidth(c) for c in self.columns])


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
        rows.append(
            [
                Cell(r.indicator.name),
                Cell(label(r.indicator.measure)),
                value_cell(r.month.value, percent),
                value_cell(r.year_to_date.value, percent),
                Cell(target_text(r.indicator)),
                Cell(label(r.state)),
                Cell(r.month.samples, "count"),
                Cell(r.month.failed, "count"),
                value_cell(r.month.low, percent),
                value_cell(r.month.high, percent),
                Cell(r.change_vs_previous, "points"),
                Cell(r.change_vs_last_year, "points"),
                Cell(counting_text(Counting.of(report.plan, r.indicator))),
            ]
        )
    return Table(
        "指标完成情况",
        f"{report.plan.title} {report.label} 指标完成情况",
        [
            "指标",
            "计量",
            "本月",
            "本年累计",
            "目标",
            "状态",
            "本月样本",
            "不合格",
            "置信区间下限(95%)",
            "置信区间上限(95%)",
            "较上月(百分点/分)",
            "较去年同月(百分点/分)",
            "统计口径",
        ],
        rows,
        [34, 12, 10, 10, 18, 9, 9, 8, 12, 12, 12, 12, 26],
    )


def categories(report: MonthlyReport) -> Table:
    return Table(
        "分类",
        f"{report.label} 分类抽检情况({NOT_APART})",
        ["类别", "细类", "检验批次", "合格", "不合格", "合格率"],
        [
            [
                Cell(label(c.category)),
                Cell(c.subcategory or "—"),
                Cell(c.tested, "count"),
                Cell(c.passed, "count"),
                Cell(c.failed, "count"),
                Cell(c.pass_rate, "rate"),
            ]
            for c in report.categories
        ],
        [14, 16, 10, 10, 10, 10],
    )


def regions(report: MonthlyReport) -> Table:
    return Table(
        "分地区",
        f"{report.label} 分地区完成情况(按差距排序)",
        ["排名", "地区", "指标", "样本", "不合格", "本月", "目标", "差距(百分点)"],
        [
            [
                Cell(i + 1, "count"),
                Cell(r.region_name),
                Cell(r.indicator.name),
                Cell(r.figure.samples, "count"),
                Cell(r.figure.failed, "count"),
                Cell(r.figure.value, "rate"),
                Cell(target_text(r.indicator)),
                Cell(r.shortfall, "points"),
            ]
            for i, r in enumerate(report.regions)
        ],
        [6, 14, 34, 8, 8, 10, 14, 12],
    )


def trends(report: MonthlyReport) -> Table:
    months = [f"{y}-{m:02d}" for y, m in report.trend_months]
    rows = []
    for r in report.indicators:
        percent = is_percent(r.indicator.measure)
        target = r.indicator.target.value
        rows.append(
            [
                Cell(r.indicator.name),
                value_cell(target, percent) if target is not None else Cell(label(r.indicator.target.op)),
                *[value_cell(f.value, percent) for f in report.trends[r.indicator.id]],
            ]
        )
    return Table(
        "趋势",
        f"近13个月趋势({months[0]} 至 {months[-1]})",
        ["指标", "目标", *months],
        rows,
        [34, 10] + [9] * len(months),
    )


def failures(report: MonthlyReport) -> Table:
    return Table(
        "不合格明细",
        f"{report.label} 不合格样品明细({NOT_APART})",
        [
            "抽样单编号",
            "抽样日期",
            "类别",
            "细类",
            "抽检类型",
            "样品名称",
            "地区",
            "标称生产企业",
            "被抽样单位",
            "检验机构",
            "不合格项目║检验结果(标准值)",
        ],
        [
            [
                Cell(f.sample_id),
                Cell(f.day.isoformat()),
                Cell(label(f.category)),
                Cell(f.subcategory),
                Cell(label(SamplingType(f.sampling_type))),
                Cell(f.product),
                Cell(f.region),
                Cell(f.manufacturer),
                Cell(f.sampled_unit),
                Cell(f.lab),
                Cell(items_text(f.items)),
            ]
            for f in report.failures
        ],
        [22, 11, 10, 10, 10, 14, 9, 22, 22, 26, 48],
    )


def alerts(report: MonthlyReport) -> Table:
    return Table(
        "告警",
        f"{report.label} 告警(本月开启、解决或月末仍未解决)",
        ["编号", "指标", "地区", "窗口", "级别", "开启时间", "解决时间", "月末状态"],
        [
            [
                Cell(a.alert_id, "count"),
                Cell(a.indicator),
                Cell(a.region),
                Cell(window_label(a.window)),
                Cell(label(a.severity)),
                Cell(a.opened_at),
                Cell(a.resolved_at),
                Cell(OPEN_AT_MONTH_END[a.open_at_month_end]),
            ]
            for a in report.alerts
        ],
        [8, 34, 10, 10, 6, 17, 17, 10],
    )


OPEN_AT_MONTH_END = {True: "未解决", False: "已解决"}


def cases(report: MonthlyReport) -> Table:
    rows = [
        [
            Cell(c.region),
            Cell(c.opened, "count"),
            Cell(c.closed, "count"),
            Cell(c.closed_on_time, "count"),
            Cell(c.overturned, "count"),
            Cell(c.open_at_month_end, "count"),
            Cell(c.overdue_at_month_end, "count"),
        ]
        for c in report.cases
    ]
    if len(report.cases) > 1:
        totals = [
            sum(getattr(c, f) for c in report.cases)
            for f in ("opened", "closed", "closed_on_time", "overturned", "open_at_month_end", "overdue_at_month_end")
        ]
        rows.append([Cell("合计"), *(Cell(t, "count") for t in totals)])
    return Table(
        "核查处置",
        f"{report.label} 不合格样品核查处置(期限依据见核查处置期限表)",
        ["地区", "本月立案", "本月办结", "其中按时办结", "改判撤销", "月末在办", "月末超期"],
        rows,
        [12, 10, 10, 12, 10, 10, 10],
    )


def corrections(report: MonthlyReport) -> Table:
    """上报后更正: figures of months already reported upward (qsmon months close) that late results changed."""
    rows = []
    for c in report.corrections:
        percent = is_percent(c.indicator.measure)
        rows.append(
            [
                Cell(c.month.strftime("%Y-%m")),
                Cell(c.indicator.name),
                Cell(c.region_name),
                Cell(c.reported.samples, "count"),
                Cell(c.current.samples, "count"),
                Cell(c.reported.failed, "count"),
                Cell(c.current.failed, "count"),
                value_cell(c.reported.value, percent),
                value_cell(c.current.value, percent),
                Cell(c.change, "points"),
            ]
        )
    return Table(
        "上报后更正",
        f"{report.label} 上报后更正(已关账月份在上报后发生的变化)",
        ["月份", "指标", "地区", "上报样本", "现样本", "上报不合格", "现不合格", "上报值", "现值", "变化(百分点/分)"],
        rows,
        [9, 34, 10, 9, 9, 10, 9, 10, 10, 12],
    )


NO_LAST_YEAR = "去年同月无数据"
NO_LAST_MONTH = "上月无数据"


def _compared(now: Tally, before: Tally, missing: str) -> Cell:
    """The change in percentage points, or why there is none (no batches then): never a division by zero."""
    difference = change(now, before)
    return Cell(difference, "points") if difference is not None else Cell(missing if not before.batches else None)


def _group_cells(row: GroupRow, name: str) -> list[Cell]:
    return [
        Cell(name),
        Cell(row.month.batches, "count"),
        Cell(row.month.failed, "count"),
        Cell(row.month.rate, "rate"),
        Cell(row.previous_month.rate, "rate"),
        _compared(row.month, row.previous_month, NO_LAST_MONTH),
        Cell(row.last_year.batches, "count"),
        Cell(row.last_year.rate, "rate"),
        _compared(row.month, row.last_year, NO_LAST_YEAR),
    ]


_GROUP_COLUMNS = [
    "批次",
    "不合格",
    "不合格率",
    "上月不合格率",
    "环比(百分点)",
    "去年同月批次",
    "去年同月不合格率",
    "同比(百分点)",
]
_GROUP_WIDTHS = [9, 8, 10, 12, 12, 12, 14, 12]


def _class_name(row: GroupRow) -> str:
    """The 大类 of a food line (未分类 when the result named none)."""
    return row.key or "未分类"


def total_name(report: MonthlyReport) -> str:
    """合计 with the scope it counts, the same in every table and sentence: 合计(食品安全抽检)."""
    return f"合计({report.bulletin.scope.label})"


def classes(report: MonthlyReport) -> Table:
    """分大类: food batches in totals by SAMR 大类, with 合计, 环比 and 同比."""
    b = report.bulletin
    rows = [[Cell(label(r.category) if r.category else ""), *_group_cells(r, _class_name(r))] for r in b.classes]
    if b.total is not None and b.classes:
        rows.append([Cell(total_name(report)), *_group_cells(b.total, "")])
    return Table(
        "分大类",
        f"{report.label} {b.scope.detail}分大类情况",
        ["类别", "大类", *_GROUP_COLUMNS],
        rows,
        [10, 18, *_GROUP_WIDTHS],
    )


def _stage_order(key: str) -> int:
    """生产, 流通, 餐饮, 网络销售 (the 细则's order), then 未注明."""
    order = [s.value for s in Stage]
    return order.index(key) if key in order else len(order)


def stages(report: MonthlyReport) -> Table:
    """分环节: 生产 / 流通 / 餐饮 / 网络销售, with 合计."""
    b = report.bulletin
    by_stage: dict[str, list[GroupRow]] = {}
    for r in b.stages:  # one line per 环节 across subcategories
        by_stage.setdefault(r.key, []).append(r)
    merged = {key: sum_rows(lines, key) for key, lines in by_stage.items()}
    rows = [
        _group_cells(r, label(Stage(key)) if key else "未注明")
        for key, r in sorted(merged.items(), key=lambda kv: _stage_order(kv[0]))
    ]
    if b.total is not None and merged:
        rows.append(_group_cells(b.total, total_name(report)))
    return Table(
        "分环节",
        f"{report.label} {b.scope.detail}分环节情况",
        ["抽检环节", *_GROUP_COLUMNS],
        rows,
        [12, *_GROUP_WIDTHS],
    )


def sampling_types(report: MonthlyReport) -> Table:
    """分抽检类型 (food): each type in totals, their 合计 (the same as 分大类's), and risk monitoring on its own line
    as 问题样品 and 问题发现率, never a pass rate."""
    b = report.bulletin
    order = list(SamplingType)
    rows = []
    for r in sorted(b.sampling_types, key=lambda r: order.index(SamplingType(r.key))):
        risk = r.key == SamplingType.RISK_MONITORING
        if risk and b.total is not None and b.total.month.batches:
            rows.append([Cell(total_name(report)), Cell("不合格率"), *_group_cells(b.total, "")[1:]])
        rows.append(
            [Cell(label(SamplingType(r.key))), Cell("问题发现率" if risk else "不合格率"), *_group_cells(r, "")[1:]]
        )
    if b.risk_monitoring is None and b.total is not None and b.total.month.batches:
        rows.append([Cell(total_name(report)), Cell("不合格率"), *_group_cells(b.total, "")[1:]])
    return Table(
        "分抽检类型",
        f"{report.label} 食品分抽检类型情况(风险监测为问题样品与问题发现率,不计入合计)",
        [
            "抽检类型",
            "计量",
            "批次",
            "不合格/问题样品",
            "比率",
            "上月比率",
            "环比(百分点)",
            "去年同月批次",
            "去年同月比率",
            "同比(百分点)",
        ],
        rows,
        [14, 10, *_GROUP_WIDTHS],
    )


def other_categories(report: MonthlyReport) -> Table:
    """其他类别: every category but food, each sampling type in totals on its own line, named by both."""
    rows = [
        [Cell(label(r.category) if r.category else ""), *_group_cells(r, label(SamplingType(r.key)))]
        for r in report.bulletin.others
    ]
    return Table(
        "其他类别",
        f"{report.label} 其他类别抽检情况({NOT_APART})",
        ["类别", "抽检类型", *_GROUP_COLUMNS],
        rows,
        [12, 12, *_GROUP_WIDTHS],
    )


def problem_types_table(report: MonthlyReport) -> Table:
    """问题类型: failed items (项次) by the type bulletins group them in; 未归类 lists its items."""
    return Table(
        "问题类型",
        f"{report.label} {report.bulletin.scope.label}不合格项目问题类型(按项次,占不合格项次总数)",
        ["问题类型", "项次", "占比", "主要项目"],
        [
            [Cell(p.name), Cell(p.items, "count"), Cell(p.share, "rate"), Cell("、".join(p.examples))]
            for p in report.bulletin.problems
        ],
        [26, 8, 10, 60],
    )


def repeat_firms(report: MonthlyReport) -> Table:
    return Table(
        "多次不合格企业",
        f"近12个月多次不合格的企业/单位(截至{report.label},{NOT_APART})",
        ["企业/单位", "地区", "不合格批次", "样品"],
        [
            [Cell(f.firm), Cell(f.region), Cell(f.failures, "count"), Cell("、".join(f.products))]
            for f in report.bulletin.repeat_firms
        ],
        [34, 10, 10, 50],
    )


def references(report: MonthlyReport) -> Table:
    """参照数据: figures published elsewhere beside the local month's, each with its period and source; the
    classes no reference covers are listed under it."""
    rows = []
    for figure, local in report.bulletin.references:
        local_rate = local.rate if local else None
        rows.append(
            [
                Cell(figure.scope),
                Cell(label(figure.category)),
                Cell(figure.subcategory or "—"),
                Cell(figure.period),
                Cell(figure.fail_rate, "rate"),
                Cell(local_rate, "rate"),
                Cell(
                    points(local_rate, figure.fail_rate) if local_rate is not None else "本地本月无数据",
                    "points" if local_rate is not None else "text",
                ),
                Cell(figure.source),
            ]
        )
    for category, key in report.bulletin.missing_references:
        rows.append([Cell("未提供参照数据"), Cell(label(category)), Cell(key or "—"), *[Cell(None)] * 5])
    return Table(
        "参照数据",
        f"{report.label} 本地不合格率与参照数据(参照数据由本局维护,注明来源)",
        ["参照范围", "类别", "大类", "参照期间", "参照不合格率", "本地本月不合格率", "差(百分点)", "来源"],
        rows,
        [12, 10, 16, 14, 12, 14, 12, 40],
    )


NO_NOTE = "暂无解析（待补充风险解析表）"


def risk_analysis(report: MonthlyReport) -> Table:
    """风险解析: every item that failed in the month, with its note; items without one say so."""
    notes = item_notes(item.item for failure in report.failures for item in failure.items)
    return Table(
        "风险解析",
        f"{report.label} 不合格项目风险解析",
        ["不合格项目", "批次", "说明", "标准依据", "可能原因", "健康影响"],
        [
            [
                Cell(n.item),
                Cell(n.failures, "count"),
                Cell(n.note.what if n.note else NO_NOTE),
                Cell(n.note.standard if n.note else None),
                Cell(n.note.causes if n.note else None),
                Cell(n.note.health if n.note else None),
            ]
            for n in notes
        ],
        [24, 8, 40, 36, 36, 40],
    )


NO_POPULATION = "缺少人口数据（请配置人口数据文件）"


def tasks(report: MonthlyReport) -> Table:
    """任务进度: batches done this year against those due by the month's end, per sampling task and region."""
    rows = []
    for r in report.tasks:
        missing = r.annual is None
        rows.append(
            [
                Cell(r.task.name),
                Cell(r.region_name),
                Cell(r.annual if not missing else NO_POPULATION, "score" if not missing else "text"),
                Cell(r.due, "score"),
                Cell(r.done, "count"),
                Cell(r.progress, "rate"),
                Cell(r.task.source),
            ]
        )
    return Table(
        "任务进度",
        f"截至{report.label}末抽检任务完成情况(应完成按全年任务量与已过天数折算)",
        ["任务", "地区", "全年任务(批次)", "截至月末应完成", "已完成", "完成率", "依据"],
        rows,
        [24, 10, 14, 14, 10, 10, 50],
    )


_OUTCOMES = {"met": "已确定达标", "lost": "已无法达标", "open": "待定"}


def forecast(report: MonthlyReport) -> Table:
    """年度达标预测 (indicators.pace): as of the month's end, the year's budget, what the rest needs and the
    projected year end with its 80 % interval and the probability of meeting the target."""
    rows = []
    for r in report.forecast:
        interval = f"{r['low']:.2f}% – {r['high']:.2f}%" if r["low"] is not None and r["high"] is not None else "—"
        probability = None if r["probability"] is None else r["probability"] * 100
        rows.append(
            [
                Cell(r["indicator_name"]),
                Cell(r["region_name"] + (f" · {r['subcategory']}" if r["subcategory"] else "")),
                Cell(f"{r['op']} {r['target']:g}%"),
                Cell(r["tested"], "count"),
                Cell(r["so_far"], "rate"),
                Cell(r["planned_text"]),
                Cell(r["budget_left"], "score"),
                Cell(r["needed"] if r["outcome"] == "open" else None, "rate"),
                Cell(r["projected"], "rate"),
                Cell(interval),
                Cell(probability, "rate"),
                Cell(_OUTCOMES[r["outcome"]]),
            ]
        )
    return Table(
        "年度达标预测",
        f"{report.year}年度达标预测(截至{report.label}末;按近90天不合格率与上年季节推算,区间为80%)",
        [
            "指标",
            "地区",
            "目标",
            "本年已检",
            "本年合格率",
            "全年计划量",
            "剩余不合格额度",
            "其余批次需达",
            "预计年底",
            "80%区间",
            "达标概率",
            "结论",
        ],
        rows,
        [28, 14, 10, 10, 10, 30, 12, 12, 10, 20, 10, 12],
    )


def analysis_table(report: MonthlyReport) -> Table:
    """分析: sentences written from the tables, each naming its table; 下一步工作 left to staff."""
    return Table(
        "分析",
        f"{report.label} 分析(由数据生成,每句注明数据来源表)",
        ["内容", "数据来源表"],
        [[Cell(s.text), Cell(s.table)] for s in analysis(report)],
        [100, 16],
    )


def all_tables(report: MonthlyReport) -> list[Table]:
    return [
        indicators(report),
        analysis_table(report),
        classes(report),
        stages(report),
        sampling_types(report),
        other_categories(report),
        problem_types_table(report),
        categories(report),
        regions(report),
        trends(report),
        failures(report),
        repeat_firms(report),
        risk_analysis(report),
        references(report),
        tasks(report),
        forecast(report),
        alerts(report),
        cases(report),
        corrections(report),
    ]
