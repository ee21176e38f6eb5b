"""SAMR's food classification (大类 / 亚类 / 品种 / 细类) as reference data, and mapping an announcement's 分类 or
食品名称 onto it.

The table lives in qsmon/food_classes.yaml with its source, with the common names products are announced under
(鸡精, 味精, 食用动物油). Matching is by exact name first (a class at any level, an alias or a product name), then
by the name the text contains that ends furthest right, the longest of those (a Chinese product name ends with what
it is: 豌豆粉丝 is 粉丝, not 豌豆; 大豆油 is not 大豆): "豆及豆制品-->非发酵豆制品" and "非发酵豆制品" are both
豆制品, "豆类" is 食用农产品 / 豆类. Text no class matches gives None, for the caller to report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, field_validator


class Variety(BaseModel):
    """A 品种, with its 细类 and the common names of its products."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    details: tuple[str, ...] = ()  # 细类
    products: tuple[str, ...] = ()


class SubClass(BaseModel):
    """A 亚类."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    varieties: tuple[Variety, ...] = ()


class FoodClass(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    order: int  # the 大类 number in the 细则 (一, 二, …)
    name: str
    subclasses: tuple[SubClass, ...] = ()
    aliases: tuple[str, ...] = ()

    @field_validator("subclasses", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        """A 亚类 without 品种 may be written as its bare name."""
        return [{"name": v} if isinstance(v, str) else v for v in value or ()]


class FoodClassTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    classes: tuple[FoodClass, ...]


@dataclass(frozen=True, slots=True)
class Classified:
    major: str  # 大类
    minor: str | None = None  # 亚类, when the text names one
    variety: str | None = None  # 品种
    detail: str | None = None  # 细类


@cache
def food_classes() -> FoodClassTable:
    text = resources.files("qsmon").joinpath("food_classes.yaml").read_text(encoding="utf-8")
    return FoodClassTable.model_validate(yaml.safe_load(text))


@cache
def _names() -> dict[str, Classified]:
    """Every name a class is known by, to what it means. A broader level wins over a narrower one of the same name
    (the 大类 豆制品 over a 品种 豆制品), and an earlier class over a later one (processed foods before 食用农产品)."""
    levels: list[dict[str, Classified]] = [{}, {}, {}, {}, {}]  # 大类, 亚类, 品种, 细类, product names
    for food_class in food_classes().classes:
        major = food_class.name
        levels[0].setdefault(major, Classified(major))
        for alias in food_class.aliases:
            levels[0].setdefault(alias, Classified(major))
        for sub in food_class.subclasses:
            levels[1].setdefault(sub.name, Classified(major, sub.name))
            for variety in sub.varieties:
                levels[2].setdefault(variety.name, Classified(major, sub.name, variety.name))
                for detail in variety.details:
                    levels[3].setdefault(detail, Classified(major, sub.name, variety.name, detail))
                for product in variety.products:
                    levels[4].setdefault(product, Classified(major, sub.name, variety.name))
    names: dict[str, Classified] = {}
    for level in levels:
        for name, meaning in level.items():
            names.setdefault(name, meaning)
    for food_class in food_classes().classes:  # a 大类's own name means the 大类 whatever else shares it
        names[food_class.name] = Classified(food_class.name)
    return names


def classify(*texts: str | None) -> Classified | None:
    """The class the first text that names one names (分类 before 食品名称); segments split by --> or / are read
    from the most specific (last) one."""
    names = _names()
    for text in texts:
        if not text:
            continue
        segments = [s.strip() for s in text.replace("-->", "/").replace(">", "/").split("/") if s.strip()]
        for segment in reversed(segments):
            if segment in names:
                return names[segment]
        # A bracket says a flavour or a note (香菇豆干（鸡汁味）, 生粉（食用玉米淀粉）): the name outside it first.
        best = _head_name(_BRACKETS.sub(" ", text)) or _head_name(text)
        if best is not None:
            return names[best]
    return None


_BRACKETS = re.compile(r"[（(【\[][^）)】\]]*[）)】\]]?")


@lru_cache(maxsize=16_384)
def _head_name(text: str) -> str | None:
    """The known name (two characters at least) that ends furthest right in ``text``, the longest of those: a
    Chinese product name ends with what it is (马铃薯粉条 is 粉条, 大豆油 is not 大豆)."""
    best: tuple[int, int] = (-1, 0)
    found: str | None = None
    for name in _long_names():
        end = text.rfind(name)
        if end >= 0 and (end + len(name), len(name)) > best:
            best, found = (end + len(name), len(name)), name
    return found


@cache
def _long_names() -> tuple[str, ...]:
    return tuple(n for n in _names() if len(n) >= 2)
