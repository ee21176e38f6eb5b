"""What a case notice and a bureau's daily digest say (Chinese, for the people who must act)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cases.deadlines import StepState
from cases.labels import case_label
from notify.message import Message
from qsmon.escaping import markdown_text as md


def _line(p: dict[str, Any]) -> str:
    what = md(" ".join(x for x in (p.get("product"), p.get("firm")) if x) or p["sample_id"])
    return (
        f"- {md(p['region_name'])} {what}(样品 {md(p['sample_id'])}):{md(p['step_name'])} "
        f"**{case_label(StepState(p['state']))}**,期限 {p['due_on']}({p['basis']})"
    )


def render(payloads: Sequence[dict[str, Any]]) -> Message | None:
    """One message for a group of case payloads: step notices (due soon, overdue) and digests."""
    steps = [p for p in payloads if p.get("kind") == "case_step"]
    digests = [p for p in payloads if p.get("kind") == "case_digest"]
    assists = [p for p in payloads if p.get("kind") == "case_assist"]
    escalations = [p for p in payloads if p.get("kind") == "case_escalation"]
    if not steps and not digests and not assists and not escalations:
        return None
    body: list[str] = []
    if escalations:
        body.append("**督办**(超期未办结,请督促)")
        body.extend(_line(p) for p in escalations)
    if assists:
        body.append("**协查请求**(标称生产者在贵辖区,请核查处置并反馈)")
        body.extend(_assist_line(p) for p in assists)
    overdue = [p for p in steps if p["state"] == StepState.OVERDUE]
    soon = [p for p in steps if p["state"] == StepState.DUE_SOON]
    if overdue:
        body.append("**已超期**")
        body.extend(_line(p) for p in overdue)
    if soon:
        body.append("**即将到期**")
        body.extend(_line(p) for p in soon)
    for d in digests:
        body.append(
            f"**{d['region_name']} {d['day']} 核查处置日报**:办理中 {d['open']} 件,"
            f"即将到期 {d['due_soon']} 项,已超期 {d['overdue']} 项"
        )
        body.extend(_line(p) for p in d["oldest"])
    where = (
        (escalations or steps or digests)[0]["region_name"]
        if escalations or steps or digests
        else assists[0]["made_in_name"]
    )
    if escalations:
        title = f"【核查处置·督办】{where} {len(escalations)}项超期未办结"
    elif assists and not steps and not digests:
        title = f"【协查】{where} {len(assists)}件不合格产品的生产者在贵辖区"
    elif overdue:
        title = f"【核查处置·超期】{where} {len(overdue)}项已超期" + (f",{len(soon)}项即将到期" if soon else "")
    elif soon:
        title = f"【核查处置·提醒】{where} {len(soon)}项即将到期"
    else:
        title = f"【核查处置·日报】{where}"
    return Message(
        title=title,
        markdown=f"### {title}\n" + "\n".join(body),
        data={"kind": "case_notices", "title": title, "notices": list(payloads)},
        urgent=bool(overdue or escalations),
    )


def _assist_line(p: dict[str, Any]) -> str:
    what = " ".join(x for x in (p.get("product"), p.get("firm")) if x) or p["sample_id"]
    due = f",请于 {p['due_on']} 前接收协查" if p.get("due_on") else ""
    return (
        f"- {p['region_name']}抽检不合格:{what}(样品 {p['sample_id']},{p['opened_on']} 收到结论),"
        f"生产者所在地 {p['made_in_name']}{due};{p['reply_basis']}"
    )
