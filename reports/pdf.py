"""The PDF for the meeting: a summary written from the numbers, trend charts with target lines, the ranking.

Chinese needs a CJK font with TrueType outlines, which PDF embeds as it declares it: Debian's fonts-wqy-microhei
(installed by deploy/local/install.sh and the Dockerfile). Noto Sans CJK's CFF outlines, embedded as TrueType by
matplotlib, made poppler warn "Mismatch between font type and embedded font file" on every page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from indicators.counting import shown_text
from indicators.labels import label, number, target_text
from reports.analysis import analysis
from reports.data import MonthlyReport
from reports.summary import summary
from reports.tables import (
    NO_DATA,
    Cell,
    Table,
    cases,
    classes,
    corrections,
    printed,
    references,
    risk_analysis,
    sampling_types,
    stages,
)
from reports.typeset import fullwidth, wrap

CJK_FONT_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",)
CJK_FAMILY = "WenQuanYi Micro Hei"
A4 = (8.27, 11.69)


def setup_charts() -> Any:
    """matplotlib for the reports' charts: the CJK font, and every text drawn as it is (the notice's chart too)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager, pyplot

    from qsmon.escaping import plain_chart_text
    from qsmon.exceptions import ConfigError

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # the CJK font has no bold: regular is used
    found = [f for f in CJK_FONT_FILES if Path(f).exists()]
    if not found:
        raise ConfigError("no CJK font for the PDF: install Debian's fonts-wqy-microhei", looked_in=CJK_FONT_FILES[0])
    for path in found:
        font_manager.fontManager.addfont(path)
    pyplot.rcParams.update(
        {"font.family": CJK_FAMILY, "pdf.fonttype": 42, "axes.unicode_minus": False, "svg.hashsalt": "qsmon"}
    )
    plain_chart_text(pyplot.rcParams)  # names are text, never mathtext ($\y$ broke the report)
    return pyplot


def _page(plt: Any, title: str) -> Any:
    """An A4 page of the internal report under its title, marked 内部资料."""
    fig = plt.figure(figsize=A4)
    fig.text(0.08, 0.95, title, fontsize=12.5, weight="bold")
    fig.text(0.92, 0.965, "内部资料", fontsize=8, color="#C00000", ha="right")
    return fig


def _summary_page(plt: Any, report: MonthlyReport, masthead: Masthead) -> Any:
    fig = plt.figure(figsize=A4)
    fig.text(0.92, 0.965, "内部资料 注意保存", fontsize=9, color="#C00000", ha="right")
    fig.text(
        0.5,
        0.935,
        f"{report.plan.jurisdiction.name}{report.label}质量指标月报",
        fontsize=16,
        weight="bold",
        ha="center",
    )
    fig.text(0.5, 0.91, fullwidth(f"（{report.plan.title}）"), fontsize=10, ha="center")
    fig.text(
        0.5,
        0.89,
        f"编制单位：{masthead.bureau}　　编制日期：{masthead.issued.year}年{masthead.issued.month}月"
        f"{masthead.issued.day}日",
        fontsize=9.5,
        ha="center",
        color="#333333",
    )
    y = 0.86
    for line in wrap(summary(report), 40):
        fig.text(0.08, y, line, fontsize=11)
        y -= 0.022
    rows = [
        [
            r.indicator.name[:22],
            number(r.month.value, r.indicator.measure),
            number(r.year_to_date.value, r.indicator.measure),
            target_text(r.indicator),
            label(r.state),
            str(r.month.samples),
        ]
        for r in report.indicators
    ]
    ax = fig.add_axes((0.05, 0.05, 0.9, max(0.1, y - 0.08)))
    ax.axis("off")
    if not rows:
        ax.text(0.02, 0.9, NO_DATA, fontsize=10, transform=ax.transAxes)
        return fig
    table = ax.table(
        cellText=rows,
        colLabels=["指标", "本月", "本年累计", "目标", "状态", "样本"],
        loc="upper center",
        colWidths=[0.42, 0.11, 0.11, 0.18, 0.09, 0.09],
        cellLoc="center",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8.5)
    table.scale(1, 1.35)
    for (row, _), cell in table.get_celld().items():
        if row == 0:
            cell.set_facecolor("#DDEBF7")
        elif report.indicators[row - 1].state.firing:
            cell.set_facecolor("#FCE4E4")
    return fig


def _trend_pages(plt: Any, report: MonthlyReport) -> list[Any]:
    months = [f"{y % 100:02d}-{m:02d}" for y, m in report.trend_months]
    charted = [r for r in report.indicators if any(f.value is not None for f in report.trends[r.indicator.id])]
    pages = []
    for start in range(0, len(charted), 6):
        fig, axes = plt.subplots(3, 2, figsize=A4)
        fig.suptitle("近13个月趋势(虚线为目标)", fontsize=13)
        for ax, row in zip(axes.flat, charted[start : start + 6], strict=False):
            indicator = row.indicator
            values = [f.value for f in report.trends[indicator.id]]
            ax.plot(
                range(len(months)),
                [v if v is not None else float("nan") for v in values],
                marker="o",
                markersize=3,
                color="#1F4E79",
            )  # NaN leaves a gap: no samples is not zero
            if indicator.target.value is not None:
                ax.axhline(indicator.target.value, color="#C00000", linestyle="--", linewidth=1)
            ax.set_title("\n".join(wrap(indicator.name, 20)), fontsize=9)
            ax.set_xticks(range(0, len(months), 3), [months[i] for i in range(0, len(months), 3)], fontsize=7)
            ax.tick_params(axis="y", labelsize=7)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(charted[start : start + 6]) :]:
            ax.axis("off")
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        pages.append(fig)
    return pages


def _ranking_page(plt: Any, report: MonthlyReport) -> Any | None:
    ranked = [r for r in report.regions if r.shortfall is not None][:15]
    if not ranked:
        return None
    fig = _page(plt, fullwidth(f"{report.label} 分地区完成情况(按与目标的差距排序)"))
    ax = fig.add_axes((0.32, 0.5, 0.6, 0.4))
    labels = ["\n".join(wrap(f"{r.region_name} · {r.indicator.name}", 16)) for r in ranked][::-1]
    gaps = [r.shortfall or 0.0 for r in ranked][::-1]
    ax.barh(range(len(ranked)), gaps, color=["#C00000" if g > 0 else "#70AD47" for g in gaps])
    ax.set_yticks(range(len(ranked)), labels, fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("低于目标的百分点(正值为未达标)", fontsize=9)
    table_ax = fig.add_axes((0.05, 0.05, 0.9, 0.38))
    table_ax.axis("off")
    rows = [
        [
            str(i + 1),
            r.region_name,
            r.indicator.name[:18],
            str(r.figure.samples),
            number(r.figure.value, r.indicator.measure),
            target_text(r.indicator),
            printed(Cell(r.shortfall, "points")),
        ]
        for i, r in enumerate(ranked)
    ]
    table = table_ax.table(
        cellText=rows,
        colLabels=["排名", "地区", "指标", "样本", "本月", "目标", "差距"],
        loc="upper center",
        colWidths=[0.07, 0.13, 0.38, 0.09, 0.11, 0.13, 0.09],
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    return fig


def _cases_page(plt: Any, report: MonthlyReport) -> Any | None:
    """核查处置: each bureau's cases opened, closed (on time), overturned, open and overdue at the month's end."""
    table = cases(report)
    if not report.cases:
        return None
    fig = _page(plt, table.title)
    ax = fig.add_axes((0.15, 0.55, 0.75, 0.35))
    shown = report.cases[:15]
    ax.barh(range(len(shown)), [c.overdue_at_month_end for c in shown], color="#C00000", label="月末超期")
    ax.barh(
        range(len(shown)),
        [c.open_at_month_end - c.overdue_at_month_end for c in shown],
        left=[c.overdue_at_month_end for c in shown],
        color="#A5A5A5",
        label="月末在办(未超期)",
    )
    ax.set_yticks(range(len(shown)), [c.region for c in shown], fontsize=8)
    ax.legend(fontsize=8)
    table_ax = fig.add_axes((0.05, 0.05, 0.9, 0.45))
    table_ax.axis("off")
    drawn = table_ax.table(
        cellText=[[str(cell.value) for cell in row] for row in table.rows],
        colLabels=list(table.columns),
        loc="upper center",
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(8)
    return fig


def _draw_table(ax: Any, table: Table, max_rows: int, fontsize: float, width: int = 16) -> None:
    """A table with its text wrapped (never cut) in cells ``width`` characters wide, text left and figures right."""
    ax.axis("off")
    if not table.rows:  # matplotlib cannot draw a table without rows
        ax.text(0.02, 0.9, NO_DATA, fontsize=fontsize + 1, transform=ax.transAxes)
        return
    rows = [list(row) for row in table.rows[:max_rows]]
    text = [["\n".join(wrap(printed(cell), width)) for cell in row] for row in rows]
    header = ["\n".join(wrap(c, width)) for c in table.columns]
    drawn = ax.table(cellText=text, colLabels=header, loc="upper center", cellLoc="left")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(fontsize)
    drawn.auto_set_column_width(list(range(len(header))))  # each column as wide as its widest line
    for (r, c), box in drawn.get_celld().items():
        lines = (header[c] if r == 0 else text[r - 1][c]).count("\n") + 1
        box.set_height(box.get_height() * lines)
        if r > 0 and rows[r - 1][c].kind != "text":
            box.get_text().set_horizontalalignment("right")
            box._loc = "right"  # matplotlib lays out a cell's text by its _loc


def _corrections_page(plt: Any, report: MonthlyReport) -> Any | None:
    """上报后更正: the closed months' figures that moved since they were reported (first 30 rows)."""
    table = corrections(report)
    if not table.rows:
        return None
    fig = _page(plt, table.title)
    _draw_table(fig.add_axes((0.03, 0.05, 0.94, 0.86)), table, 30, 7)
    return fig


def _bulletin_page(plt: Any, report: MonthlyReport) -> Any:
    """The bulletin: the analysis written from the tables, supervisory batches by 大类 with 环比 and 同比, and the
    problem types' shares."""
    fig = _page(plt, f"{report.label} 抽检情况分析")
    y = 0.92
    for sentence in analysis(report):
        for line in wrap(sentence.text, 44):
            fig.text(0.08, y, line, fontsize=9.5)
            y -= 0.018
    table = classes(report)
    fig.text(0.05, y - 0.01, table.title, fontsize=10, weight="bold")
    _draw_table(fig.add_axes((0.02, 0.30, 0.96, max(0.1, y - 0.33))), table, 22, 6.5, width=10)
    problems = report.bulletin.problems
    if problems:
        ax = fig.add_axes((0.30, 0.04, 0.58, 0.2))
        bars = ax.barh(range(len(problems)), [p.share for p in problems], color="#1F4E79")
        ax.bar_label(bars, labels=[f"{shown_text(p.share)}（{p.items}项次）" for p in problems], fontsize=7, padding=2)
        ax.set_xlim(0, max(p.share for p in problems) * 1.3)
        ax.set_yticks(range(len(problems)), [p.name for p in problems], fontsize=7.5)
        ax.invert_yaxis()
        ax.set_xlabel("占不合格项目项次总数的百分比（%）", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(f"图1 {report.label}{report.bulletin.scope.label}不合格项目问题类型（按项次）", fontsize=9)
    return fig


def _bulletin_tables_page(plt: Any, report: MonthlyReport) -> Any:
    """分环节, 分抽检类型 (risk monitoring as 问题发现率), 参照数据 and 风险解析, each under its title."""
    fig = plt.figure(figsize=A4)
    boxes = [
        (stages(report), 0.70, 0.22, 8, 10),
        (sampling_types(report), 0.50, 0.16, 8, 10),
        (references(report), 0.33, 0.13, 8, 12),
        (risk_analysis(report), 0.03, 0.26, 4, 14),
    ]
    for table, bottom, height, max_rows, width in boxes:
        fig.text(0.04, bottom + height + 0.012, table.title, fontsize=9.5, weight="bold")
        if table.rows:
            _draw_table(fig.add_axes((0.02, bottom, 0.96, height)), table, max_rows, 6, width=width)
        else:
            fig.text(0.06, bottom + height - 0.02, "本月无数据", fontsize=8)
    return fig


@dataclass(frozen=True, slots=True)
class Masthead:
    """Who compiled the internal report and when (the public notice has its own title block)."""

    bureau: str
    issued: date


def write_pdf(report: MonthlyReport, path: Path, masthead: Masthead) -> Path:
    plt = setup_charts()
    from matplotlib.backends.backend_pdf import PdfPages

    # No creation date: re-rendering the same month gives the same bytes.
    with PdfPages(
        path,
        metadata={
            "Title": f"{report.plan.title} {report.label}质量指标月报",
            "Creator": "qsmon",
            "CreationDate": None,
            "Producer": "qsmon",
        },
    ) as pdf:
        extra = [
            page
            for page in (_ranking_page(plt, report), _cases_page(plt, report), _corrections_page(plt, report))
            if page is not None
        ]
        pages = [
            _summary_page(plt, report, masthead),
            _bulletin_page(plt, report),
            _bulletin_tables_page(plt, report),
            *_trend_pages(plt, report),
            *extra,
        ]
        for fig in pages:
            pdf.savefig(fig)
            plt.close(fig)
    return path
