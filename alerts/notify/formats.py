"""What people read: Chinese markdown for robots and mail, labels for Alertmanager."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts.payload import MEASURE_LABELS, SEVERITY_LABELS, TRANSITION_LABELS

_OPS = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "=", "increasing": "不低于上期"}


def _number(value: float | None, measure: str) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}分" if measure == "mean_score" else f"{value:.2f}%"


def title(p: dict[str, Any]) -> str:
    return (f"【{TRANSITION_LABELS.get(p['transition'], p['transition'])}·{SEVERITY_LABELS.get(p['severity'], '')}】"
            f"{p['region_name']} {p['indicator_name']}")


def target_text(p: dict[str, Any]) -> str:
    if p["op"] == "increasing":
        return f"不低于上期 {_number(p['previous_value'], p['measure'])}"
    return f"{_OPS[p['op']]} {_number(p['target'], p['measure'])}"


def markdown(p: dict[str, Any]) -> str:
    measure = MEASURE_LABELS.get(p["measure"], p["measure"])
    scope = p["region_name"] + (f" · {p['subcategory']}" if p["subcategory"] else "")
    lines = [
        f"### {title(p)}",
        f"- 规划:{p['plan_title']}",
        f"- 地区:{scope}",
        f"- 统计窗口:{p['window_label']}({p['first_day']} 至 {p['last_day']})",
        f"- {measure}:**{_number(p['value'], p['measure'])}**(目标 {target_text(p)})",
        f"- 样本:{p['samples']} 批次,不合格 {p['failed']} 批次",
        f"- 95%置信区间:{_number(p['low'], p['measure'])} – {_number(p['high'], p['measure'])}",
    ]
    if p["top_failed_items"]:
        items = "、".join(f"{name}({count})" for name, count in p["top_failed_items"])
        lines.append(f"- 主要不合格项目:{items}")
    lines.append(f"- [查看趋势看板]({p['dashboard_url']})")
    return "\n".join(lines)


def alertmanager_alert(p: dict[str, Any]) -> dict[str, Any]:
    """One alert for Alertmanager API v2. A resolved event ends it; a firing one lasts until resolved or refreshed."""
    at = datetime.fromisoformat(p["at"])
    ends = at if p["transition"] == "resolved" else at + timedelta(days=7)
    return {
        "labels": {"alertname": "QsmonIndicatorBelowTarget", "plan": p["plan"], "indicator": p["indicator"],
                   "region": p["region"], "subcategory": p["subcategory"] or "all", "window": p["window"],
                   "severity": p["severity"]},
        "annotations": {"summary": title(p), "description": markdown(p)},
        "startsAt": at.isoformat(),
        "endsAt": ends.isoformat(),
        "generatorURL": p["dashboard_url"],
    }
