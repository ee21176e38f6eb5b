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

OPENED = "opened"


class Unit(StrEnum):
    IMMEDIATELY = "immediately"
    WORKING_DAYS = "working_days"
    DAYS = "days"


class Due(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    within: int = Field(ge=0, le=365)
    unit: Unit
    from_: str = Field(alias="from")


class StepRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    due: Due
    basis: str = Field(min_length=1)  # the article the deadline comes from


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


class DeadlineTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: dict[str, str]
    categories: dict[str, CategoryRules]

    @model_validator(mode="after")
    def _sources_named(self) -> DeadlineTable:
        unknown = {c.source for c in self.categories.values()} - set(self.sources)
        if unknown:
            raise ValueError(f"categories cite unknown sources: {sorted(unknown)}")
        return self

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
    text = path.read_text(encoding="utf-8") if path else \
        resources.files("qsmon").joinpath("case_deadlines.yaml").read_text(encoding="utf-8")
    try:
        return DeadlineTable.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ConfigError("the case deadline table is invalid", file=str(path or "qsmon/case_deadlines.yaml"),
                          error=str(exc).splitlines()[0]) from None


UNIT_WORDS = {Unit.IMMEDIATELY: "立即(当日)", Unit.WORKING_DAYS: "个工作日", Unit.DAYS: "日(自然日)"}


def markdown_table(table: DeadlineTable) -> str:
    """The deadline table as the README shows it (generated: `qsmon cases deadlines`)."""
    lines = ["| 类别 category | 步骤 step | 时限 deadline | 起算 from | 依据 basis |", "|---|---|---|---|---|"]
    for category, rules in table.categories.items():
        names = {s.id: s.name for s in rules.steps}
        for step in rules.steps:
            due = UNIT_WORDS[step.due.unit] if step.due.unit is Unit.IMMEDIATELY else \
                f"{step.due.within} {UNIT_WORDS[step.due.unit]}"
            start = "收到不合格结论" if step.due.from_ == OPENED else names[step.due.from_]
            lines.append(f"| `{category}` | {step.name} (`{step.id}`) | {due} | {start} | "
                         f"{table.source_of(category).split('(')[0]} {step.basis} |")
    return "\n".join(lines)
