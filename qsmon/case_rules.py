"""The steps of a follow-up case (核查处置) and their deadlines, per category, from qsmon/case_deadlines.yaml (or the
site's file, QSMON_CASE_DEADLINES_FILE). Ground: the worker reads which categories open cases, cases/ the rest."""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from qsmon.exceptions import ConfigError
from qsmon.regions import is_within

OPENED = "opened"


class Unit(StrEnum):
    IMMEDIATELY = "immediately"
    WORKING_DAYS = "working_days"
    DAYS = "days"
    HOURS = "hours"  # deadlines are days: 24 h from a day is due the next day, 48 h the day after


NO_RECALL = "none"  # the risk-control step recorded "no recall needed"
RECALL_START, RECALL_COMPLETE = "recall_start", "recall_complete"  # the steps a recall level adds
ASSIST_SENT, ASSIST_REPLY = "assist_sent", "assist_reply"  # 协查发出, 协查回复


class Due(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    within: int = Field(ge=0, le=8760)
    unit: Unit
    from_: str = Field(alias="from")


class StepRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    due: Due
    basis: str = Field(min_length=1)  # the article the deadline comes from
    escalate_after: int | None = Field(default=None, ge=0, le=250)  # working days overdue before 督办


class CategoryRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    steps: tuple[StepRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _anchors_come_first(self) -> CategoryRules:
        seen = {OPENED}
        for step in self.steps:
            if step.due.from_ not in seen:
                raise ValueError(f"step {step.id} counts from {step.due.from_!r}, which is not an earlier step")
            seen.add(step.id)
        return self

    def step(self, step_id: str) -> StepRule | None:
        return next((s for s in self.steps if s.id == step_id), None)


class RecallLevel(BaseModel):
    """A recall level (召回级别): when the recall must start, counted from the case's opening (知悉风险), and
    complete, counted from the day the recall started with its announcement (召回公告发布之日)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)  # 一级召回
    start: Due
    start_basis: str = Field(min_length=1)
    complete: Due  # its `from` is the start step
    complete_basis: str = Field(min_length=1)
    escalate_after: int | None = Field(default=None, ge=0, le=250)  # working days overdue before 督办

    def steps(self) -> tuple[StepRule, StepRule]:
        return (
            StepRule(
                id=RECALL_START,
                name=f"{self.name}:启动召回并发布召回公告",
                due=self.start,
                basis=self.start_basis,
                escalate_after=self.escalate_after,
            ),
            StepRule(
                id=RECALL_COMPLETE,
                name=f"{self.name}:完成召回",
                due=self.complete,
                basis=self.complete_basis,
                escalate_after=self.escalate_after,
            ),
        )


class RecallRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    step: str  # the step whose record carries the level (risk_control)
    categories: tuple[str, ...] = Field(min_length=1)
    levels: tuple[RecallLevel, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _well_formed(self) -> RecallRules:
        for level in self.levels:
            if level.start.from_ != OPENED:
                raise ValueError(f"recall level {level.id} must start counting from {OPENED!r}")
            if level.complete.from_ != RECALL_START:
                raise ValueError(f"recall level {level.id} must complete counting from {RECALL_START!r}")
        return self

    def level(self, given: str) -> RecallLevel | None:
        """A level by its id or its Chinese name (一级召回, or 一级)."""
        return next((lv for lv in self.levels if given in (lv.id, lv.name, lv.name.removesuffix("召回"))), None)


class AssistRules(BaseModel):
    """协查: the steps a case gets when the manufacturer is outside the sampling bureau's region."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    categories: tuple[str, ...] = Field(min_length=1)
    steps: tuple[StepRule, StepRule]

    @model_validator(mode="after")
    def _sent_then_reply(self) -> AssistRules:
        sent, reply = self.steps
        if (sent.id, reply.id) != (ASSIST_SENT, ASSIST_REPLY) or reply.due.from_ != ASSIST_SENT:
            raise ValueError(f"assist steps are {ASSIST_SENT} then {ASSIST_REPLY}, counted from {ASSIST_SENT}")
        if sent.due.from_ != OPENED:
            raise ValueError(f"{ASSIST_SENT} counts from {OPENED!r}")
        return self


def needs_assist(region_code: str, manufacturer_region_code: str | None) -> bool:
    """Whether a case asks the manufacturer's bureau for 协查: its place of manufacture is known and outside the
    sampling bureau's region (a county's case made in another county, a city's made in another city)."""
    return manufacturer_region_code is not None and not is_within(manufacturer_region_code, region_code)


class DeadlineTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: dict[str, str]
    categories: dict[str, CategoryRules]
    recall: RecallRules | None = None
    assist: AssistRules | None = None

    @model_validator(mode="after")
    def _sources_named(self) -> DeadlineTable:
        cited = (
            {c.source for c in self.categories.values()}
            | ({self.recall.source} if self.recall else set())
            | ({self.assist.source} if self.assist else set())
        )
        unknown = cited - set(self.sources)
        if unknown:
            raise ValueError(f"categories cite unknown sources: {sorted(unknown)}")
        if self.recall is not None:
            for category in self.recall.categories:
                rules = self.categories.get(category)
                if rules is None or rules.step(self.recall.step) is None:
                    raise ValueError(
                        f"recall levels name category {category!r}, which has no step {self.recall.step!r}"
                    )
                if rules.step(RECALL_START) or rules.step(RECALL_COMPLETE):
                    raise ValueError(f"category {category!r} already has a step named like a recall step")
        for category in self.assist.categories if self.assist else ():
            if category not in self.categories:
                raise ValueError(f"assist names category {category!r}, which has no steps")
        return self

    def recall_level(self, category: str, given: str) -> str:
        """The level's id for a category's case, from its id or Chinese name; ``none`` for no recall. ValueError
        when the category has no recall levels or the level is unknown."""
        if given in (NO_RECALL, "不召回", "无需召回"):
            return NO_RECALL
        if self.recall is None or category not in self.recall.categories:
            raise ValueError(f"category {category} has no recall levels")
        level = self.recall.level(given)
        if level is None:
            raise ValueError(
                f"unknown recall level {given!r}: one of "
                f"{', '.join(lv.id + ' (' + lv.name + ')' for lv in self.recall.levels)}, or none"
            )
        return level.id

    def rules_for(
        self, category: str, recall_level: str | None = None, *, assist: bool = False
    ) -> CategoryRules | None:
        """A category's steps, with the two 协查 steps when the case asks the manufacturer's bureau (``assist``),
        and the two a recall level adds (start and completion) when the case has one."""
        rules = self.categories.get(category)
        if rules is None:
            return None
        extra: tuple[StepRule, ...] = ()
        if assist and self.assist is not None and category in self.assist.categories:
            extra += self.assist.steps
        level = self.recall.level(recall_level) if self.recall and recall_level and recall_level != NO_RECALL else None
        if level is not None and self.recall is not None and category in self.recall.categories:
            extra += level.steps()
        return rules.model_copy(update={"steps": (*rules.steps, *extra)}) if extra else rules

    def source_of(self, category: str) -> str:
        return self.sources[self.categories[category].source]

    def for_category(self, category: str) -> CategoryRules | None:
        return self.categories.get(category)

    @property
    def case_categories(self) -> list[str]:
        """Categories whose failures open a case."""
        return sorted(self.categories)


@cache
def load_table(path: Path | None = None) -> DeadlineTable:
    """The bundled table, or the site's file (QSMON_CASE_DEADLINES_FILE); a malformed one is a ConfigError."""
    text = (
        path.read_text(encoding="utf-8")
        if path
        else resources.files("qsmon").joinpath("case_deadlines.yaml").read_text(encoding="utf-8")
    )
    try:
        return DeadlineTable.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ConfigError(
            "the case deadline table is invalid",
            file=str(path or "qsmon/case_deadlines.yaml"),
            error=str(exc).splitlines()[0],
        ) from None


UNIT_WORDS = {
    Unit.IMMEDIATELY: "立即(当日)",
    Unit.WORKING_DAYS: "个工作日",
    Unit.DAYS: "日(自然日)",
    Unit.HOURS: "小时(计至日)",
}


def _escalate_words(step: StepRule) -> str:
    return "-" if step.escalate_after is None else f"超期 {step.escalate_after} 个工作日"


def _due_words(due: Due) -> str:
    return UNIT_WORDS[due.unit] if due.unit is Unit.IMMEDIATELY else f"{due.within} {UNIT_WORDS[due.unit]}"


def markdown_table(table: DeadlineTable) -> str:
    """The deadline table as the README shows it (generated: `qsmon cases deadlines`)."""
    lines = [
        "| 类别 category | 步骤 step | 时限 deadline | 起算 from | 督办 escalate | 依据 basis |",
        "|---|---|---|---|---|---|",
    ]
    for category, rules in table.categories.items():
        names = {s.id: s.name for s in rules.steps}
        for step in rules.steps:
            start = "收到不合格结论" if step.due.from_ == OPENED else names[step.due.from_]
            lines.append(
                f"| `{category}` | {step.name} (`{step.id}`) | {_due_words(step.due)} | {start} | "
                f"{_escalate_words(step)} | {table.source_of(category).split('(')[0]} {step.basis} |"
            )
    if table.assist is not None:
        assist = table.assist
        names = {s.id: s.name for s in assist.steps}
        lines += [
            "",
            f"协查 assist (the manufacturer outside the sampling bureau's region; categories "
            f"{', '.join(f'`{c}`' for c in assist.categories)}):",
            "",
            "| 步骤 step | 时限 deadline | 起算 from | 督办 escalate | 依据 basis |",
            "|---|---|---|---|---|",
        ]
        for step in assist.steps:
            start = "收到不合格结论" if step.due.from_ == OPENED else names[step.due.from_]
            lines.append(
                f"| {step.name} (`{step.id}`) | {_due_words(step.due)} | {start} | "
                f"{_escalate_words(step)} | {table.sources[assist.source].split('(')[0]} {step.basis} |"
            )
    if table.recall is not None:
        recall = table.recall
        source = table.sources[recall.source].split("(")[0]
        lines += [
            "",
            f"召回级别 recall levels (recorded with `{recall.step}`; categories "
            f"{', '.join(f'`{c}`' for c in recall.categories)}): {table.sources[recall.source]}",
            "",
            "| 级别 level | 启动召回并发布公告 start | 起算 from | 完成召回 complete | 起算 from | 依据 basis |",
            "|---|---|---|---|---|---|",
        ]
        for level in recall.levels:
            lines.append(
                f"| {level.name} (`{level.id}`) | {_due_words(level.start)} | 收到不合格结论 | "
                f"{_due_words(level.complete)} | 召回公告发布之日 | {source} {level.start_basis};"
                f"{level.complete_basis} |"
            )
    return "\n".join(lines)
