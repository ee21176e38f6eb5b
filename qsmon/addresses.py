"""Where an address (or a unit's name) is: the GB/T 2260 code it names, by the maintained address parser cpca-new.

Published announcements give 被抽样单位 and 标称生产企业 with their addresses, or only a name that starts with its
place (漳州市龙文区董世川豆制品店). The most specific division named wins (county, else city, else province); a
name that names none gives None, and the caller keeps what it knew (the province column).
"""

from __future__ import annotations

from functools import lru_cache

from qsmon.regions import is_within, regions


@lru_cache(maxsize=65_536)
def locate(text: str | None) -> str | None:
    """The code of the most specific division ``text`` names, if it is one qsmon knows."""
    if not text or not text.strip():
        return None
    import cpca_new

    found = cpca_new.transform([text]).iloc[0]["adcode"]
    if not isinstance(found, str) or not found:
        return None
    code = found[:6]
    return code if code in regions() else None


def locate_within(texts: tuple[str | None, ...], within: str | None) -> str | None:
    """The first of ``texts`` (most trusted first: an address before a name) that names a division inside
    ``within`` (a province code; None: anywhere)."""
    for text in texts:
        code = locate(text)
        if code is not None and (within is None or is_within(code, within)):
            return code
    return None


def province_of(text: str | None) -> str | None:
    """The province a text names (吉林市场监管厅 -> 220000), however specific the rest of it is."""
    code = locate(text)
    return None if code is None else code[:2] + "0000"
