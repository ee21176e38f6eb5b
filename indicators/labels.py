"""The one table of what bureau staff read, keyed by the enums: messages, workbook, CSV, PDF, CLI and dashboards.

The vocabulary's labels live with the vocabulary (qsmon.vocab); this module adds the indicators' own words and
the number formats. The dashboards read the same table from the database (``label(kind, code)``, synced by
`qsmon init` and the alert service from :func:`label_rows`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum

from indicators.counting import shown_text
from indicators.stats import State
from qsmon.plans.counting import Counting
from qsmon.plans.model import CountingDate, Indicator, Measure, Op, Place, PlanStatus, Severity, rolling_days
from qsmon.vocab import LABELS as VOCABULARY
from qsmon.vocab import Category, Grade, SamplingType, Stage, Verdict

LABELS: Mapping[StrEnum, str] = {
    **{member: text for member, text in VOCABULARY.items()},  # noqa: C416 - widens the key type to StrEnum
    Measure.PASS_RATE: "合格率",
    Measure.FAIL_RATE: "不合格率",
    Measure.PROBLEM_RATE: "问题发现率",
    Measure.GRADE_RATE: "达标等级比例",
    Measure.MEAN_SCORE: "平均得分",
    Op.GE: "≥",
    Op.GT: ">",
    Op.LE: "≤",
    Op.LT: "<",
    Op.EQ: "=",
    Op.INCREASING: "不断提高",
    State.OK: "达标",
    State.WARNING: "警告",
    State.CRITICAL: "严重",
    State.INSUFFICIENT_DATA: "样本不足",
    Severity.CRITICAL: "严重",
    Severity.WARNING: "警告",
    Severity.INFO: "提示",
    PlanStatus.NOT_STARTED: "未开始",
    PlanStatus.IN_FORCE: "执行中",
    PlanStatus.EXTENDED: "规划期已结束,延续执行",
    PlanStatus.EXPIRED: "已到期,不再评价",
    CountingDate.SAMPLED: "抽样日期",
    CountingDate.REPORTED: "报告日期",
    CountingDate.ANNOUNCED: "公告日期",
    Place.SAMPLING_SITE: "抽样地",
    Place.MANUFACTURER: "生产企业所在地",
}

_CALENDAR_WINDOWS = {
    "month_to_date": "本月",
    "quarter_to_date": "本季度",
    "year_to_date": "本年度",
    "plan_period": "规划期",
    "no_data": "数据中断",
    "pace": "达标预测",
}
STANDARD_WINDOWS = ("rolling_30d", "rolling_90d", "month_to_date", "quarter_to_date", "year_to_date", "plan_period")
FEED_WINDOW = "no_data"  # indicators.feed: a scope whose results stopped
PACE_WINDOW = "pace"  # indicators.pace: the year's target at risk (达标预测)
_KINDS: Mapping[type[StrEnum], str] = {
    Category: "category",
    SamplingType: "sampling_type",
    Stage: "stage",
    Verdict: "verdict",
    Grade: "grade",
    Measure: "measure",
    Op: "op",
    State: "state",
    Severity: "severity",
    PlanStatus: "plan_status",
}


def label(member: StrEnum) -> str:
    return LABELS[member]


def window_label(window: str) -> str:
    days = rolling_days(window)
    return f"近{days}天" if days is not None else _CALENDAR_WINDOWS.get(window, window)


def kind_of(enum: type[StrEnum]) -> str:
    """The enum's name in the database's label table: CamelCase to snake_case."""
    return _KINDS.get(enum) or re.sub(r"(?<!^)(?=[A-Z])", "_", enum.__name__).lower()


def is_percent(measure: Measure) -> bool:
    return measure is not Measure.MEAN_SCORE


def number(value: float | None, measure: Measure) -> str:
    """A value as people read it: 97.80% for rates (indicators.counting.shown), 82.1分 for mean scores, — when there
    is none."""
    if value is None:
        return "—"
    return shown_text(value) if is_percent(measure) else f"{value:.1f}分"


def target_text(indicator: Indicator, previous: float | None = None) -> str:
    """≥ 98.00% / 不断提高(不低于上期 97.50%): the target in words, with the comparison value where known."""
    return target_words(indicator.target.op, indicator.target.value, indicator.measure, previous)


def target_words(op: Op, target: float | None, measure: Measure, previous: float | None = None) -> str:
    """The one wording of a target, for an indicator (reports, status) and an alert's payload (messages)."""
    if op is Op.INCREASING:
        compared = f"(不低于上期 {number(previous, measure)})" if previous is not None else "(不低于上期)"
        return f"{label(op)}{compared}"
    return f"{label(op)} {number(target, measure)}"


def counting_text(counting: Counting) -> str:
    """The counting basis in words (统计口径), for dashboards, reports and `qsmon status`: 按抽样日期、抽样地统计."""
    words = f"按{label(counting.date)}、{label(counting.place)}统计"
    return f"{words}(仅{'、'.join(label(level) for level in counting.levels)})" if counting.levels else words


def label_rows(windows: Iterable[str] = (), extra: Mapping[StrEnum, str] | None = None) -> list[tuple[str, str, str]]:
    """(kind, code, label) for the database's label table: every enum label, ``extra`` ones, and the windows."""
    rows = [(kind_of(type(member)), member.value, text) for member, text in {**LABELS, **(extra or {})}.items()]
    rows += [("window", w, window_label(w)) for w in sorted({*STANDARD_WINDOWS, FEED_WINDOW, PACE_WINDOW, *windows})]
    return rows
