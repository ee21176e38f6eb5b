"""What people read of alerts: one message per channel and group, in Chinese, for robots and mail alike.

A group's message lists every indicator, region and window that changed since the group's last message, by kind
of change (new, escalated, still firing, recovered, closed), most severe and furthest from target first. The
windows of one indicator in one region share a line (近30天 97.80% · 本月 97.50%); counties that fire with their
city fold into the city's line (inhibit rules); every change is still sent to Alertmanager, which groups alerts
itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from itertools import groupby
from typing import Any

from alerts.acks import AckLinks
from alerts.lifecycle import Transition
from cases.messages import render as case_message
from indicators.labels import FEED_WINDOW, PACE_WINDOW, label, number, target_words, window_label
from notify.message import Message
from notify.routing import Channel, ChannelsConfig, InhibitRule
from qsmon.clock import local_day
from qsmon.clock import now as qsmon_now
from qsmon.escaping import markdown_text as md
from qsmon.plans.model import Measure, Op, PlanStatus, Severity
from qsmon.settings import get_settings

TRANSITION_LABELS: Mapping[StrEnum, str] = {
    Transition.OPENED: "新告警",
    Transition.REOPENED: "再次告警",
    Transition.ESCALATED: "告警升级",
    Transition.REPEATED: "仍在告警",
    Transition.RESOLVED: "已恢复",
    Transition.EXPIRED: "规划到期,告警关闭",
    Transition.HANDED_UP: "超时未确认,上报",
    Transition.ACKNOWLEDGED: "已确认",
}
_SECTION_ORDER = (
    Transition.OPENED,
    Transition.REOPENED,
    Transition.ESCALATED,
    Transition.HANDED_UP,
    Transition.REPEATED,
    Transition.RESOLVED,
    Transition.EXPIRED,
)
_FIRING = {Transition.OPENED, Transition.REOPENED, Transition.ESCALATED, Transition.HANDED_UP, Transition.REPEATED}
_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
_MARK = {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}


# Payloads queued by an earlier version lack the fields added since: what they are read with instead.
_EARLIER_PAYLOADS: Mapping[str, Any] = {
    "plan_status": PlanStatus.IN_FORCE.value,
    "period_start": "—",
    "period_end": "—",
    "in_force_until": None,
    "jurisdiction": "",
    "jurisdiction_name": "",
    "region_level": "region",
    "opened_at": None,
    "top_failed_firms": [],
}


def upgraded(p: Mapping[str, Any]) -> dict[str, Any]:
    """A payload with every field this version reads (see _EARLIER_PAYLOADS)."""
    return {**_EARLIER_PAYLOADS, **p}


def _key(p: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    return p["plan"], p["indicator"], p["region"], p["subcategory"], p["window"]


def payload_target(p: Mapping[str, Any]) -> str:
    return target_words(Op(p["op"]), p["target"], Measure(p["measure"]), p["previous_value"])


def _shortfall(p: Mapping[str, Any]) -> float:
    """How far from target (larger: worse), for ordering the lines."""
    value, target = p.get("value"), p.get("target") if p.get("target") is not None else p.get("previous_value")
    if value is None or target is None:
        return 0.0
    return float(value - target) if p["op"] in ("<", "<=") else float(target - value)


def plan_line(p: Mapping[str, Any]) -> str:
    text = f"规划:{md(p['plan_title'])}(规划期 {p['period_start']} 至 {p['period_end']}"
    if p.get("plan_status") == PlanStatus.EXTENDED:
        text += f",规划期已结束,延续执行至 {p['in_force_until']}"
    elif p.get("plan_status") == PlanStatus.EXPIRED:
        text += ",已到期"
    return text + ")"


def _windows(items: Sequence[Mapping[str, Any]]) -> str:
    return " · ".join(f"{p['window_label']} **{number(p['value'], Measure(p['measure']))}**" for p in items)


def _line(items: Sequence[Mapping[str, Any]], folded: Sequence[Mapping[str, Any]]) -> list[str]:
    """One indicator in one region: its windows, then the detail of the worst window."""
    worst = items[0]
    severity = Severity(worst["severity"])
    scope = md(worst["region_name"]) + (f" · {md(worst['subcategory'])}" if worst["subcategory"] else "")
    mark = f"{_MARK[severity]} {label(severity)}" if Transition(worst["transition"]) in _FIRING else "✅"
    if worst["window"] == FEED_WINDOW:  # a feed that stopped: no rate to show, only what was due
        days = (datetime.fromisoformat(worst["last_day"]) - datetime.fromisoformat(worst["first_day"])).days + 1
        return [
            f"- {mark}|{scope}|{md(worst['indicator_name'])}:近{days}天收到 {worst['samples']} 批次结果"
            f"(此前每{days}天约 {worst['previous_value'] or 0:.0f} 批次),请核实数据报送是否中断"
        ]
    if worst["window"] == PACE_WINDOW:
        return _pace_lines(worst, mark, scope)
    lines = [f"- {mark}|{scope}|{md(worst['indicator_name'])}:{_windows(items)}(目标 {payload_target(worst)})"]
    detail = [
        f"样本 {worst['samples']} 批次,不合格 {worst['failed']} 批次",
        f"95%置信区间 {number(worst['low'], Measure(worst['measure']))} – "
        f"{number(worst['high'], Measure(worst['measure']))}",
    ]
    if worst.get("opened_at"):
        detail.append(f"自 {worst['opened_at'][:16].replace('T', ' ')} 起")
    lines.append("  " + ";".join(detail))
    if worst.get("unacknowledged_hours") is not None:
        lines.append(f"  已超过 {worst['unacknowledged_hours']:g} 个工作小时无人确认")
    if str(worst.get("held_by", "")).startswith("silence:"):  # held until its silence ended (notify.held)
        lines.append(f"  静默期间已恢复({worst['at'][:16].replace('T', ' ')})")
    if worst.get("acknowledged_by"):
        lines.append(f"  已确认:{worst['acknowledged_by']}({worst['acknowledged_at'][:16].replace('T', ' ')})")
    if worst.get("top_failed_items"):
        lines.append(
            "  主要不合格项目:" + "、".join(f"{md(name)}({count})" for name, count in worst["top_failed_items"])
        )
    if worst.get("top_failed_firms"):
        lines.append("  涉及企业:" + "、".join(f"{md(name)}({count})" for name, count in worst["top_failed_firms"]))
    if folded:
        counties: dict[str, Mapping[str, Any]] = {}
        for f in folded:
            counties.setdefault(md(f["region_name"]), f)
        verb = "未达标" if Transition(worst["transition"]) in _FIRING else "恢复"
        lines.append(
            f"  下级地区同时{verb}:"
            + "、".join(f"{name} {number(f['value'], Measure(f['measure']))}" for name, f in counties.items())
        )
    return lines


def _pace_lines(p: Mapping[str, Any], mark: str, scope: str) -> list[str]:
    """达标预测: the projected year end with its interval and probability, then what drives it."""
    measure = Measure(p["measure"])
    pace = p.get("pace") or {}
    head = (
        f"- {mark}|{scope}|{p['indicator_name']}:{window_label(PACE_WINDOW)} 预计年底{label(measure)}"
        f" **{number(p['value'], measure)}**(区间 {number(p['low'], measure)}–{number(p['high'], measure)})"
    )
    if pace.get("outcome") == "lost":
        head += ",已无法达标"
    elif pace.get("probability") is not None:
        head += f",达标概率 {pace['probability'] * 100:.0f}%"
    lines = [head + f"(目标 {payload_target(p)})"]
    detail = [f"本年已检 {p['samples']} 批次,不合格 {p['failed']} 批次"]
    if pace:
        detail.append(f"全年{pace['planned_text']}")
        if pace.get("needed") is not None and pace.get("outcome") == "open":
            detail.append(f"其余 {pace['remaining']} 批次需达 {pace['needed']:.2f}%")
    lines.append("  " + ";".join(detail))
    signals = [
        f"近{b['long_days']}天/近{b['short_days']}天预算消耗 {b['long']:.1f}×/{b['short']:.1f}×(阈值 {b['factor']:g}×)"
        for b in pace.get("burns", [])
        if b["firing"]
    ]
    drift = pace.get("drift")
    if drift and drift["signalled"]:
        signals.append(
            f"不合格率持续上升(CUSUM {drift['statistic']:.1f} ≥ {drift['threshold']:.1f},"
            f"{'上年同期' if drift['seasonal'] else '目标允许'}不合格率 {drift['baseline']:.2f}%)"
        )
    if signals:
        lines.append("  " + ";".join(signals))
    return lines


def _fold(
    items: list[dict[str, Any]], rules: Sequence[InhibitRule]
) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """Items that keep their own line, and for each source item (by index) the items folded into it."""
    folded: dict[int, list[dict[str, Any]]] = {}
    kept = []
    for target in items:
        source = next(
            (
                i
                for i, s in enumerate(items)
                if s is not target
                and (Transition(s["transition"]) in _FIRING) == (Transition(target["transition"]) in _FIRING)
                and any(rule.folds(s, target) for rule in rules)
            ),
            None,
        )
        if source is None:
            kept.append(target)
        else:
            folded.setdefault(source, []).append(target)
    return kept, folded


# The acknowledge link of a message, for the alerts it shows firing (alerts.acks.AckLinks); None: no link.
AckLink = Callable[[list[int]], str]


def group_message(
    payloads: Sequence[dict[str, Any]], rules: Sequence[InhibitRule], ack_link: AckLink | None = None
) -> Message | None:
    """The message for a group's changes since its last message. People read the latest change of each alert;
    machines (the webhook's JSON) get every change, in order."""
    changes = sorted((upgraded(p) for p in payloads), key=lambda p: p["event_id"])
    latest: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    for p in changes:
        latest[_key(p)] = p
    items = list(latest.values())
    if not items:
        return None
    kept, folded = _fold(items, rules)
    index = {id(p): i for i, p in enumerate(items)}
    first = items[0]
    body = [plan_line(first)]
    for transition in _SECTION_ORDER:
        section = [p for p in kept if Transition(p["transition"]) is transition]
        if not section:
            continue
        body.append(f"**{TRANSITION_LABELS[transition]}**")
        # The windows of an indicator in a region share a line; its pace (达标预测) has a line of its own.
        section.sort(key=lambda p: (p["indicator"], p["region"], p["subcategory"], p["window"] == PACE_WINDOW))
        lines = []
        for _, group in groupby(
            section, key=lambda p: (p["indicator"], p["region"], p["subcategory"], p["window"] == PACE_WINDOW)
        ):
            windows = sorted(group, key=lambda p: (_RANK[Severity(p["severity"])], -_shortfall(p)))
            below = [f for p in windows for f in folded.get(index[id(p)], [])]
            lines.append((_RANK[Severity(windows[0]["severity"])], -_shortfall(windows[0]), _line(windows, below)))
        for *_, text in sorted(lines, key=lambda entry: (entry[0], entry[1])):
            body.extend(text)
    worst = min(items, key=lambda p: _RANK[Severity(p["severity"])])
    firing = [p for p in items if Transition(p["transition"]) in _FIRING]
    links = f"[查看趋势看板]({first['dashboard_url']})"
    if ack_link is not None and firing:  # on the last line, which a message cut to fit keeps (notify.channels)
        links += f" · [确认告警]({ack_link([int(p['alert_id']) for p in firing])})"
    body.append(links)
    head = (
        f"【告警·{label(Severity(worst['severity']))}】"
        if firing
        else f"【{TRANSITION_LABELS[Transition(worst['transition'])]}】"
    )
    count = len({(p["indicator"], p["region"], p["subcategory"]) for p in kept})
    where = first["jurisdiction_name"] or first["region_name"]
    title = f"{head}{where} {worst['indicator_name']}" + (f" 等{count}项" if count > 1 else "")
    return Message(
        title=title,
        markdown=f"### {title}\n" + "\n".join(body),
        data={"kind": "alert_group", "title": title, "alerts": changes},  # every change, in order
        urgent=any(p["severity"] == Severity.CRITICAL for p in firing),
        alertmanager=[alertmanager_alert(p) for p in items],
    )


def renderer(
    config: ChannelsConfig,
    links: AckLinks | None = None,
    clock: Callable[[], datetime] = qsmon_now,
    *,
    timezone: str | None = None,
) -> Callable[[Channel, list[dict[str, Any]]], Message | None]:
    """What the notifier renders a group with (notify.delivery.Render): alert changes, or case notices (a group holds
    one or the other: their group keys differ). With ``links``, robot and mail messages carry an acknowledge link,
    valid from when the message goes out; a channel with ``mention`` @-mentions the roster's people on duty that
    day (in ``timezone``, default the settings')."""

    def render(channel: Channel, payloads: list[dict[str, Any]]) -> Message | None:
        if payloads and str(payloads[0].get("kind", "")).startswith("case_"):
            return case_message(payloads)
        ack_link: AckLink | None = None
        now = clock()
        if links is not None and channel.type not in ("alertmanager", "webhook"):  # people read these
            group = channel.group_key(payloads[0]) if payloads else ""
            ack_link = partial(_link, links, channel.name, group, now)
        message = group_message(payloads, config.inhibit_rules, ack_link)
        zone = timezone or get_settings().timezone
        if message is not None and _held_by_mute(config, channel, payloads, zone):
            title = "【静默时段汇总】" + message.title
            message = replace(
                message,
                title=title,
                markdown=message.markdown.replace(message.title, title, 1),
                data={**message.data, "title": title},
            )
        if message is None or channel.mention is None or config.roster is None:
            return message
        wanted = set(channel.mention.severities)
        if not any(Transition(p["transition"]) in _FIRING and p["severity"] in wanted for p in payloads):
            return message
        on_duty = config.roster.on_duty(local_day(now, zone))
        return replace(message, mentions=[person for _, person in on_duty])

    return render


def _held_by_mute(config: ChannelsConfig, channel: Channel, payloads: list[dict[str, Any]], timezone: str) -> bool:
    """Whether the group waited for one of the channel's mute intervals: a change in it was made while it was
    active (the message then sums up what changed meanwhile)."""
    intervals = config.muting(channel)
    return any(i.active(datetime.fromisoformat(p["at"]), timezone) for p in payloads for i in intervals if "at" in p)


def _link(links: AckLinks, channel: str, group: str, now: datetime, alert_ids: list[int]) -> str:
    return links.link(alert_ids, channel, group, now)


def alertmanager_alert(p: Mapping[str, Any]) -> dict[str, Any]:
    """One alert for Alertmanager API v2: a firing one lasts `endsAt`, refreshed by the alert service; a closed one
    ends now. Alertmanager compares with its own clock: the wall clock, not qsmon's business clock (qsmon.clock)."""
    p = upgraded(p)
    now = datetime.now(UTC)
    ended = Transition(p["transition"]) not in _FIRING
    return {
        "labels": {
            "alertname": ALERTNAMES[p["window"] == PACE_WINDOW],
            "plan": p["plan"],
            "indicator": p["indicator"],
            "region": p["region"],
            "subcategory": p["subcategory"] or "all",
            "window": p["window"],
            "severity": p["severity"],
        },
        "annotations": {
            "summary": f"{p['region_name']} {p['indicator_name']} {p['window_label']}"
            f" {number(p['value'], Measure(p['measure']))}(目标 {payload_target(p)})",
            "description": plan_line(p),
        },
        "startsAt": min(datetime.fromisoformat(p.get("opened_at") or p["at"]), now).isoformat(),
        "endsAt": (now if ended else now + ALERTMANAGER_HOLD).isoformat(),
        "generatorURL": p["dashboard_url"],
    }


# Below target now, or the year's target at risk (达标预测).
ALERTNAMES = {False: "QsmonIndicatorBelowTarget", True: "QsmonTargetAtRisk"}
# How long Alertmanager keeps a firing alert without hearing of it again; the service refreshes it well before.
ALERTMANAGER_HOLD = timedelta(hours=1)
