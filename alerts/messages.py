"""What people read of an alert: the message every channel renders (Chinese markdown, Alertmanager's labels)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from alerts.lifecycle import Transition
from indicators.labels import label, number
from indicators.stats import State
from notify.message import Message
from qsmon.plans.model import Measure, Op

TRANSITION_LABELS: Mapping[StrEnum, str] = {
    Transition.OPENED: "告警", Transition.REOPENED: "再次告警", Transition.ESCALATED: "告警升级",
    Transition.RESOLVED: "已恢复",
}


def title(p: dict[str, Any]) -> str:
    return (f"【{TRANSITION_LABELS[Transition(p['transition'])]}·{label(State(p['severity']))}】"
            f"{p['region_name']} {p['indicator_name']}")


def target_text(p: dict[str, Any]) -> str:
    measure, op = Measure(p["measure"]), Op(p["op"])
    if op is Op.INCREASING:
        return f"{label(op)}(不低于上期 {number(p['previous_value'], measure)})"
    return f"{label(op)} {number(p['target'], measure)}"


def markdown(p: dict[str, Any]) -> str:
    measure = Measure(p["measure"])
    scope = p["region_name"] + (f" · {p['subcategory']}" if p["subcategory"] else "")
    lines = [
        f"### {title(p)}",
        f"- 规划:{p['plan_title']}",
        f"- 地区:{scope}",
        f"- 统计窗口:{p['window_label']}({p['first_day']} 至 {p['last_day']})",
        f"- {label(measure)}:**{number(p['value'], measure)}**(目标 {target_text(p)})",
        f"- 样本:{p['samples']} 批次,不合格 {p['failed']} 批次",
        f"- 95%置信区间:{number(p['low'], measure)} – {number(p['high'], measure)}",
    ]
    if p["top_failed_items"]:
        items = "、".join(f"{name}({count})" for name, count in p["top_failed_items"])
        lines.append(f"- 主要不合格项目:{items}")
    lines.append(f"- [查看趋势看板]({p['dashboard_url']})")
    return "\n".join(lines)


def alertmanager_alert(p: dict[str, Any]) -> dict[str, Any]:
    """One alert for Alertmanager API v2. A resolved event ends it; a firing one lasts until resolved or refreshed."""
    # Alertmanager compares with its own clock: the wall clock, not qsmon's business clock (qsmon.clock).
    now = datetime.now(UTC)
    at = min(datetime.fromisoformat(p["at"]), now)
    ends = now if p["transition"] == "resolved" else now + timedelta(days=7)
    return {
        "labels": {"alertname": "QsmonIndicatorBelowTarget", "plan": p["plan"], "indicator": p["indicator"],
                   "region": p["region"], "subcategory": p["subcategory"] or "all", "window": p["window"],
                   "severity": p["severity"]},
        "annotations": {"summary": title(p), "description": markdown(p)},
        "startsAt": at.isoformat(),
        "endsAt": ends.isoformat(),
        "generatorURL": p["dashboard_url"],
    }


def alert_message(p: dict[str, Any]) -> Message:
    """An outbox payload as the message every channel renders."""
    return Message(title=title(p), markdown=markdown(p), data=p, urgent=p["severity"] == State.CRITICAL,
                   alertmanager=[alertmanager_alert(p)])
