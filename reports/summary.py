"""The paragraph at the top of the PDF, written from the numbers."""

from __future__ import annotations

from indicators.counting import shown_text
from indicators.labels import number, target_text
from indicators.problem_types import UNCLASSIFIED
from indicators.stats import State
from qsmon.plans.model import PlanStatus
from reports.data import MonthlyReport
from reports.typeset import fullwidth


def summary(report: MonthlyReport) -> str:
    rows = report.indicators
    assessed = [r for r in rows if r.state is not State.INSUFFICIENT_DATA]
    below = [r for r in assessed if r.state is not State.OK]
    plan = report.plan
    status = plan.status(report.month_range.last)
    standing = {
        PlanStatus.EXTENDED: f"(规划期已于{plan.period.end}结束,延续执行至{plan.in_force_until})",
        PlanStatus.EXPIRED: f"(规划期已于{plan.period.end}结束,本月不再评价告警)",
        PlanStatus.NOT_STARTED: f"(规划期自{plan.period.start}起)",
    }.get(status, "")
    opening = f"{report.label},{report.plan.jurisdiction.name}《{report.plan.title}》{standing}{len(rows)}项监测指标"
    if not assessed:
        parts = [f"{opening}本月均无足够样本,不作评价。"]
    else:
        parts = [
            f"{opening}中,{len(assessed)}项有足够样本,其中{len(assessed) - len(below)}项达到目标"
            + (f",{len(below)}项未达到目标。" if below else "。")
        ]
    for row in below[:5]:
        ind = row.indicator
        parts.append(
            f"{ind.name}为{number(row.month.value, ind.measure)}(目标{target_text(ind)},样本{row.month.samples}批次)。"
        )
    if below:
        names = {r.indicator.id for r in below}
        worst = [r for r in report.regions if r.indicator.id in names and r.shortfall and r.shortfall > 0][:3]
        if worst:
            parts.append(
                "差距最大的地区:"
                + "、".join(
                    f"{r.region_name}({r.indicator.name} {number(r.figure.value, r.indicator.measure)})" for r in worst
                )
                + "。"
            )
    b = report.bulletin
    typed = [p for p in b.problems if p.name != UNCLASSIFIED]
    if b.total is None or not b.total.month.batches:
        parts.append(f"本月无{b.scope.label}数据。")
    elif b.total.month.failed:
        parts.append(
            f"本月{b.scope.label}{b.total.month.batches}批次,不合格{b.total.month.failed}批次"
            + (",主要问题类型:" + "、".join(f"{p.name}({shown_text(p.share)})" for p in typed[:3]) if typed else "")
            + "。"
        )
    else:
        parts.append(f"本月{b.scope.label}{b.total.month.batches}批次,无不合格样品。")
    other_failed = sum(r.month.failed for r in b.others)
    if b.others:
        parts.append(f"其他类别抽检{sum(r.month.batches for r in b.others)}批次,不合格{other_failed}批次。")
    open_alerts = [a for a in report.alerts if a.open_at_month_end]
    parts.append(f"本月相关告警{len(report.alerts)}条,月末仍未解决{len(open_alerts)}条。")
    if report.corrections:
        months = sorted({c.month.strftime("%Y-%m") for c in report.corrections})
        parts.append(
            f"上报后更正:已关账的{'、'.join(months)}有{len(report.corrections)}项数据因迟到或更正的结果"
            "发生变化,见“上报后更正”表。"
        )
    if report.completeness is not None and (note := report.completeness.note()):
        parts.insert(0, note)  # first: every figure after it is read in its light
    return fullwidth("".join(parts))
