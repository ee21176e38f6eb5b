"""The bulletin's analysis, written from its tables: each sentence names the table its numbers come from, so a reader
can check every figure; 下一步工作 is left for staff to write."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from indicators.counting import shown_text
from indicators.labels import label
from indicators.problem_types import UNCLASSIFIED
from qsmon.vocab import Category, SamplingType
from reports.bulletin import GroupRow, Tally, change
from reports.data import MonthlyReport
from reports.typeset import fullwidth

MIN_BATCHES_TO_RANK = 20  # a class with fewer batches is not ranked by its rate: one failure would lead
NEXT_STEPS = "下一步工作：（由工作人员填写）"  # the internal 月报 only


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    table: str  # the sheet (and CSV) the numbers come from

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", fullwidth(self.text))  # printed alike in every format


def _points(value: Decimal | None, missing: str) -> str:
    """A difference of shown rates (indicators.counting.points) in words."""
    if value is None:
        return missing
    if value == 0:
        return "持平"
    return f"{'上升' if value > 0 else '下降'}{abs(value)}个百分点"


def _rate(tally: Tally) -> str:
    return shown_text(tally.rate)


def _name(row: GroupRow) -> str:
    """A food line by its 大类, any other by its category."""
    return row.key if row.key and row.category is Category.FOOD else (label(row.category) if row.category else "")


def analysis(report: MonthlyReport) -> list[Sentence]:
    b = report.bulletin
    scope = b.scope.label
    sentences: list[Sentence] = []
    if b.total is None or not b.total.month.batches:
        return [Sentence(f"{report.label}无{scope}数据。", "分大类"), *_others(report), Sentence(NEXT_STEPS, "")]
    total = b.total
    sentences.append(
        Sentence(
            f"{report.label}{scope}{total.month.batches}批次,不合格{total.month.failed}批次,不合格率{_rate(total.month)},"
            f"环比{_points(change(total.month, total.previous_month), '无法比较(上月无数据)')},"
            f"同比{_points(change(total.month, total.last_year), '无法比较(去年同月无数据)')}。",
            "分大类",
        )
    )
    ranked = sorted(
        (r for r in b.classes if r.month.batches >= MIN_BATCHES_TO_RANK and r.month.failed),
        key=lambda r: (-(r.month.rate or 0), r.key),
    )[:3]
    if ranked:
        sentences.append(
            Sentence(
                "不合格率较高的是"
                + "、".join(f"{_name(r)}({_rate(r.month)},{r.month.failed}/{r.month.batches}批次)" for r in ranked)
                + "。",
                "分大类",
            )
        )
    typed = [p for p in b.problems if p.name != UNCLASSIFIED]
    if typed:
        sentences.append(
            Sentence(
                "从问题类型看,"
                + "、".join(
                    f"{p.name}占{shown_text(p.share)}({p.items}项次,主要为{'、'.join(p.examples[:2])})"
                    for p in typed[:3]
                )
                + "。",
                "问题类型",
            )
        )
    unclassified = next((p for p in b.problems if p.name == UNCLASSIFIED), None)
    if unclassified:
        sentences.append(
            Sentence(
                f"另有{unclassified.items}项次不合格项目尚未归类({'、'.join(unclassified.examples)}),"
                "请在问题类型表中补充。",
                "问题类型",
            )
        )
    risk = b.risk_monitoring
    if risk is not None:
        sentences.append(
            Sentence(
                f"食品风险监测{risk.month.batches}批次,发现问题样品{risk.month.failed}批次,"
                f"问题发现率{_rate(risk.month)}(不计入合计与合格率)。",
                "分抽检类型",
            )
        )
    sentences.extend(_others(report))
    short = [r for r in report.regions if r.shortfall is not None and r.shortfall > 0][:3]
    if short:
        sentences.append(
            Sentence(
                "未达目标的地区:"
                + "、".join(
                    f"{r.region_name}{r.indicator.name}{shown_text(r.figure.value)}"
                    for r in short
                    if r.figure.value is not None
                )
                + "。",
                "分地区",
            )
        )
    if b.repeat_firms:
        top = b.repeat_firms[0]
        sentences.append(
            Sentence(
                f"近12个月有{len(b.repeat_firms)}家企业/单位不合格2次及以上,最多的是{top.firm}"
                f"({top.region},{top.failures}批次)。",
                "多次不合格企业",
            )
        )
    jurisdiction = report.plan.jurisdiction.code
    for row in (r for r in report.tasks if r.region_code == jurisdiction and r.due):
        behind = [
            r
            for r in report.tasks
            if r.task.id == row.task.id
            and r.region_code != jurisdiction
            and r.progress is not None
            and r.progress < 100
        ]
        sentences.append(
            Sentence(
                f"{row.task.name}:全年{row.annual:.0f}批次,截至月末应完成{row.due:.0f}批次,已完成{row.done}批次,"
                f"完成率{row.progress:.2f}%"
                + (f";进度落后的地区:{'、'.join(r.region_name for r in behind[:5])}" if behind else "")
                + "。",
                "任务进度",
            )
        )
    sentences.append(Sentence(NEXT_STEPS, ""))
    return sentences


def _others(report: MonthlyReport) -> list[Sentence]:
    """Other categories, each line named by its category and sampling type (其他类别)."""
    rows = report.bulletin.others
    if not rows:
        return []
    return [
        Sentence(
            "其他类别:"
            + "、".join(
                f"{label(r.category) if r.category else ''}{label(SamplingType(r.key))}{r.month.batches}批次"
                f"(不合格{r.month.failed}批次,不合格率{_rate(r.month)})"
                for r in rows
            )
            + "。",
            "其他类别",
        )
    ]
