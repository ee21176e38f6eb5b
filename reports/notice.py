"""The public notice (信息公告) of a month: what a bureau publishes, written from the same figures as the internal
monthly report (reports.data), and nothing internal (no targets, counties, cases, risk monitoring, reference data or
file names).

Its parts follow SAMR's 食品安全监督抽检信息公告: the title block (bureau, 公告号, date), 总体情况 with the 抽检依据
and the one-item rule, 分大类 in the 细则's order, the problem types as shares of the failed samples, 核查处置,
风险解析 of the month's commonest failed items, 消费提示, the signature, and the 不合格产品信息 annex. The fixed
paragraphs are the bureau's to reword (reports/notice_texts.yaml, QSMON_NOTICE_TEXTS_FILE).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from indicators.counting import rate, shown_text
from indicators.problem_types import UNCLASSIFIED, problem_type
from qsmon.exceptions import ConfigError
from qsmon.vocab import Category
from reports.data import FailedSample, MonthlyReport
from reports.published import PublishedFailure, class_order
from reports.risk_notes import RiskNote, note_for
from reports.typeset import fullwidth

NOTES_SHOWN = 8  # 风险解析: the month's commonest failed items that have a note


class NoticeTexts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    overview: str
    overview_none: str
    basis: str
    one_item_rule: str
    problems_intro: str
    handling: str
    consumer_tips: str
    declaration: str
    annex_title: str
    base_standards: tuple[str, ...]


@cache
def _shipped() -> str:
    return resources.files("reports").joinpath("notice_texts.yaml").read_text(encoding="utf-8")


def load_texts(path: Path | None) -> NoticeTexts:
    try:
        text = path.read_text(encoding="utf-8") if path else _shipped()
        return NoticeTexts.model_validate(yaml.safe_load(text))
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(
            "the notice texts file is unreadable or invalid", file=str(path), error=str(exc).splitlines()[0]
        ) from exc


@dataclass(frozen=True, slots=True)
class ClassLine:
    name: str  # 大类
    batches: int
    failed: int
    rate: str  # 不合格率 as shown


@dataclass(frozen=True, slots=True)
class ProblemLine:
    name: str  # a problem type
    samples: int  # failed samples with at least one item of the type
    share: str  # of the failed samples (SAMR: 占抽检不合格样品总量的…)


@dataclass(frozen=True, slots=True)
class ItemNote:
    item: str
    samples: int
    note: RiskNote


@dataclass
class Notice:
    bureau: str
    number: str  # 公告号
    title: str
    issued: date
    scope: str
    paragraphs: dict[str, str] = field(default_factory=dict)  # 总体情况, 抽检依据 … in order
    classes: list[ClassLine] = field(default_factory=list)
    total: ClassLine | None = None
    problems: list[ProblemLine] = field(default_factory=list)
    notes: list[ItemNote] = field(default_factory=list)
    annex_title: str = ""
    declaration: str = ""
    annex: list[PublishedFailure] = field(default_factory=list)


_STANDARD = re.compile(r"GB(?:/T)?\s*\d+(?:\.\d+)?(?:-\d{4})?《[^》]+》")


def _code(standard: str) -> tuple[int, str]:
    number = re.search(r"\d+(?:\.\d+)?", standard)
    return (int(float(number.group())) if number else 0), standard


def _standards(texts: NoticeTexts, notes: list[RiskNote]) -> str:
    """抽检依据: the base standards and those the month's failed items rest on, each once, by number."""
    found = {re.sub(r"\s+", " ", s) for s in texts.base_standards}
    for note in notes:
        found.update(re.sub(r"\s+", " ", s) for s in _STANDARD.findall(note.standard))
    by_code: dict[str, str] = {}
    for standard in sorted(found, key=_code):
        code = re.sub(r"-\d{4}", "", standard.split("《")[0]).strip()
        by_code.setdefault(code, standard)
    return "、".join(f"《{s.split('《', 1)[1]}（{s.split('《')[0].strip()}）" for s in by_code.values())


def build_notice(report: MonthlyReport, texts: NoticeTexts, *, bureau: str, number: str, issued: date) -> Notice:
    b = report.bulletin
    scope = b.scope.label
    values = {"bureau": bureau, "year": report.year, "month": report.month, "scope": scope}
    notice = Notice(bureau, number.format(**values), fullwidth(texts.title.format(**values)), issued, scope)
    food = [f for f in report.failures if f.category is Category.FOOD]
    classes = sorted(b.classes, key=lambda r: class_order(r.key or "未分类"))
    notice.classes = [
        ClassLine(r.key or "未分类", r.month.batches, r.month.failed, shown_text(r.month.rate)) for r in classes
    ]
    total = b.total.month if b.total else None
    if total is not None and total.batches:
        notice.total = ClassLine("合计", total.batches, total.failed, shown_text(total.rate))
    by_item = Counter(i.item for f in food for i in {i.item: i for i in f.items}.values())
    notes = [(item, n, note_for(item)) for item, n in sorted(by_item.items(), key=lambda kv: (-kv[1], kv[0]))]
    noted = [ItemNote(item, n, note) for item, n, note in notes if note is not None]
    notice.notes = noted[:NOTES_SHOWN]
    if notice.total is None:
        notice.paragraphs["总体情况"] = fullwidth(texts.overview_none.format(**values))
    else:
        names = [c.name for c in notice.classes if c.name != "未分类"]
        notice.paragraphs["总体情况"] = fullwidth(
            texts.overview.format(
                **values,
                classes="、".join(names[:6]),
                class_count=len(names),
                batches=notice.total.batches,
                passed=notice.total.batches - notice.total.failed,
                failed=notice.total.failed,
                rate=notice.total.rate,
            )
        )
        notice.paragraphs["抽检依据"] = fullwidth(
            texts.basis.format(**values, standards=_standards(texts, [n.note for n in noted]))
        )
        notice.paragraphs["判定原则"] = fullwidth(texts.one_item_rule.format(**values))
    notice.problems = _problems(food)
    if notice.problems:
        notice.paragraphs["问题类型"] = fullwidth(
            texts.problems_intro
            + "；".join(f"{p.name}问题占抽检不合格样品总量的{p.share}" for p in notice.problems)
            + "。"
        )
    if food:
        notice.paragraphs["核查处置"] = fullwidth(texts.handling.format(**values))
    notice.paragraphs["消费提示"] = fullwidth(texts.consumer_tips.format(**values))
    notice.annex_title = fullwidth(texts.annex_title.format(**values))
    notice.declaration = fullwidth(texts.declaration)
    notice.annex = [p for p in report.published if p.category is Category.FOOD]  # in the published order
    return notice


def _problems(food: list[FailedSample]) -> list[ProblemLine]:
    """Each problem type with the failed samples that have at least one item of it, as a share of the failed
    samples (one sample may fall under two types; the shares then add up to more than 100 %)."""
    if not food:
        return []
    samples: Counter[str] = Counter()
    for failure in food:
        kinds = {problem_type(failure.category, i.item) or UNCLASSIFIED for i in failure.items}
        samples.update(kinds)
    lines = [
        ProblemLine(kind, n, shown_text(rate(n, len(food))))
        for kind, n in samples.most_common()
        if kind != UNCLASSIFIED
    ]
    if UNCLASSIFIED in samples:
        n = samples[UNCLASSIFIED]
        lines.append(ProblemLine("其他", n, shown_text(rate(n, len(food)))))
    return lines
