"""Problem types of failed items (农药残留超标, 微生物污染, 安全项目不合格 …), from indicators/problem_types.yaml.

An item belongs to the first type, in the file's order, that lists its category and a term the item's name
contains; so "苯甲酸及其钠盐(以苯甲酸计)" is 超范围超限量使用食品添加剂 before a later type could claim its "钠".
An item no type claims has no type (None): reports list it as 未归类 for an analyst to add, never drop it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field

from qsmon.vocab import Category

UNCLASSIFIED = "未归类"


class ProblemType(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    categories: tuple[Category, ...] = Field(min_length=1)
    terms: tuple[str, ...] = Field(min_length=1)


class ProblemTypeTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    types: tuple[ProblemType, ...]


@cache
def problem_types() -> ProblemTypeTable:
    text = resources.files("indicators").joinpath("problem_types.yaml").read_text(encoding="utf-8")
    return ProblemTypeTable.model_validate(yaml.safe_load(text))


def problem_type_rows() -> list[tuple[int, str, str, str]]:
    """(position, category, term, type) for the database's problem_type_terms, in the file's order."""
    rows: list[tuple[int, str, str, str]] = []
    for kind in problem_types().types:
        for category in kind.categories:
            rows.extend((len(rows), category.value, term, kind.name) for term in kind.terms)
    return rows


@cache
def problem_type(category: Category, item: str) -> str | None:
    """The type of a failed item of ``category``; None when no type claims it."""
    for kind in problem_types().types:
        if category in kind.categories and any(term in item for term in kind.terms):
            return kind.name
    return None
