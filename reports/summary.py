"""The paragraph at the top of the PDF, written from the numbers."""

from __future__ import annotations

from collections import Counter

from reports.data import MonthlyReport
from reports.labels import is_percent, target_text


def _value(report_value: float | None, percent: bool) -> str:
    if report_value is None:
        return "—"
    return f"{report_value:.2f}%" if percent else f"{report_value:.1f}分"


def summary(report: MonthlyReport) -> str:
    rows = report.indicators
    assessed = [r for r in rows if r.met != "样本不足"]
    below = [r for r in assessed if r.met == "否"]
    parts = [f"{report.label},{report.plan.jurisdiction.name}《{report.plan.title}》{len(rows)}项监测指标中,"
             f"{len(assessed)}项有足够样本,其中{len(assessed) - len(below)}项达到目标"
             + (f",{len(below)}项未达到目标。" if below else "。")]
    for row in below[:5]:
        ind = row.indicator
        parts.append(f"{ind.name}为{_value(row.month.value, is_percent(ind))}(目标{target_text(ind)},"
                     f"样本{row.month.samples}批次)。")
    if below:
        names = {r.indicator.id for r in below}
        worst = [r for r in report.regions if r.indicator.id in names and r.shortfall and r.shortfall > 0][:3]
        if worst:
            parts.append("差距最大的地区:" + "、".join(
                f"{r.region_name}({r.indicator.name} {_value(r.figure.value, True)})" for r in worst) + "。")
    items: Counter[str] = Counter()
    for failure in report.failures:
        for part in failure.failed_items.split(";"):
            name = part.split(" ")[0].split("(")[0]
            if name:
                items[name] += 1
    if items:
        parts.append(f"本月不合格样品{len(report.failures)}批次,主要不合格项目:"
                     + "、".join(f"{name}({count})" for name, count in items.most_common(3)) + "。")
    else:
        parts.append("本月无不合格样品。")
    open_alerts = [a for a in report.alerts if a.status_at_month_end == "未解决"]
    parts.append(f"本月相关告警{len(report.alerts)}条,月末仍未解决{len(open_alerts)}条。")
    return "".join(parts)
