"""Chinese labels of case states, for notifications, the CLI, dashboards and reports (synced to the labels table
with the rest: alerts.service.sync_reference_data)."""

from __future__ import annotations

from enum import StrEnum

from cases.deadlines import StepState


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    OVERTURNED = "overturned"


CASE_LABELS: dict[StrEnum, str] = {
    StepState.DONE_ON_TIME: "按时完成",
    StepState.DONE_LATE: "逾期完成",
    StepState.OPEN: "办理中",
    StepState.DUE_SOON: "即将到期",
    StepState.OVERDUE: "已超期",
    StepState.WAITING: "待前序步骤",
    CaseStatus.OPEN: "办理中",
    CaseStatus.CLOSED: "已办结",
    CaseStatus.OVERTURNED: "已改判(复检或异议成立)",
}


def case_label(member: StrEnum) -> str:
    return CASE_LABELS[member]
