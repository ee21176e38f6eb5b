"""The label table: keyed by enum members, whose values are plain strings, so two enums sharing a value would share
one entry (the later label silently replacing the earlier)."""

from __future__ import annotations

from collections import defaultdict
from enum import StrEnum

from indicators.labels import LABELS, kind_of, label, label_rows
from qsmon.plans.counting import Counting
from qsmon.plans.model import CountingDate, Place
from qsmon.vocab import LABELS as VOCABULARY


def _members() -> list[StrEnum]:
    enums = {type(m) for m in [*LABELS, *VOCABULARY]} | {CountingDate, Place}
    return [m for enum in enums for m in enum]


def test_members_sharing_a_value_share_their_label() -> None:
    """State.WARNING and Severity.WARNING may share an entry (both 警告); nothing else may."""
    by_value: dict[str, set[str]] = defaultdict(set)
    for member in _members():
        by_value[member.value].add(label(member))
    assert {value: labels for value, labels in by_value.items() if len(labels) > 1} == {}


def test_every_member_has_a_label_row_of_its_own_kind() -> None:
    rows = {(kind, code) for kind, code, _ in label_rows()}
    missing = [(kind_of(type(m)), m.value) for m in (*CountingDate, *Place) if (kind_of(type(m)), m.value) not in rows]
    assert missing == []


def test_the_counting_basis_in_words() -> None:
    from indicators.labels import counting_text

    assert counting_text(Counting()) == "按抽样日期、抽样地统计"
    assert counting_text(Counting(CountingDate.ANNOUNCED, Place.MANUFACTURER)) == "按公告日期、生产企业所在地统计"
