"""SAMR's food classes (大类 / 亚类) as reference data, and mapping an announcement's 分类 or 食品名称 onto them.

The table lives in qsmon/food_classes.yaml with its source. Matching is by exact name first (a 大类, one of its 亚类
or an alias), then by the longest class name the text contains: "豆及豆制品-->非发酵豆制品" and "非发酵豆制品" are both
豆制品, "豆类" is 食用农产品 / 豆类. Text no class matches gives None, for the caller to report.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict


class FoodClass(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    order: int  # the 大类 number in the 细则 (一, 二, …)
    name: str
    subclasses: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


class FoodClassTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    classes: tuple[FoodClass, ...]


@dataclass(frozen=True, slots=True)
class Classified:
    major: str  # 大类
    minor: str | None = None  # 亚类, when the text names one


@cache
def food_classes() -> FoodClassTable:
    text = resources.files("qsmon").joinpath("food_classes.yaml").read_text(encoding="utf-8")
    return FoodClassTable.model_validate(yaml.safe_load(text))


@cache
def _names() -> dict[str, Classified]:
    """Every name a class is known by, to what it means; the 大类 names win over a 亚类 of the same name."""
    names: dict[str, Classified] = {}
    for food_class in food_classes().classes:
        for minor in food_class.subclasses:
            names.setdefault(minor, Classified(food_class.name, minor))
        for alias in food_class.aliases:
            names.setdefault(alias, Classified(food_class.name))
    for food_class in food_classes().classes:
        names[food_class.name] = Classified(food_class.name)
    return names


def classify(*texts: str | None) -> Classified | None:
    """The class the first text that names one names (分类 before 食品名称); segments split by --> or / are read
    from the most specific (last) one."""
    names = _names()
    by_length = sorted(names, key=len, reverse=True)
    for text in texts:
        if not text:
            continue
        segments = [s.strip() for s in text.replace("-->", "/").replace(">", "/").split("/") if s.strip()]
        for segment in reversed(segments):
            if segment in names:
                return names[segment]
        for name in by_length:
            if len(name) >= 2 and name in text:
                return names[name]
    return None
