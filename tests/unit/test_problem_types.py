"""Problem types of failed items: the table loads with its source; items map as bulletins group them."""

from __future__ import annotations

import pytest

from indicators.problem_types import problem_type, problem_types
from qsmon.vocab import Category


def test_the_table_names_its_source_and_each_type_once() -> None:
    table = problem_types()
    assert "食品安全监督抽检情况" in table.source
    names = [t.name for t in table.types]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("category", "item", "expected"),
    [
        (Category.AGRICULTURAL, "毒死蜱", "农药残留超标"),
        (Category.FOOD, "呋喃唑酮代谢物", "兽药残留超标"),
        (Category.FOOD, "菌落总数", "微生物污染"),
        (Category.FOOD, "苯甲酸及其钠盐(以苯甲酸计)", "超范围超限量使用食品添加剂"),  # not 质量指标's 钠
        (Category.FOOD, "铝的残留量(干样品，以Al计)", "超范围超限量使用食品添加剂"),  # the real scrape's commonest
        (Category.FOOD, "黄曲霉毒素B₁", "生物毒素污染"),
        (Category.FOOD, "铅(以Pb计)", "重金属等元素污染"),
        (Category.FOOD, "苯并[a]芘", "有机污染物"),
        (Category.FOOD, "酸价(以脂肪计)(KOH)", "质量指标不达标"),
        (Category.MANUFACTURED, "导体电阻", "安全项目不合格"),
        (Category.MANUFACTURED, "纤维含量", "性能项目不合格"),
        (Category.DRUG, "溶出度", "药品质量指标"),
        (Category.ENGINEERING, "混凝土强度", "工程实体质量"),
    ],
)
def test_items_get_the_type_bulletins_give_them(category: Category, item: str, expected: str) -> None:
    assert problem_type(category, item) == expected


def test_an_item_no_type_claims_is_none_and_a_type_keeps_to_its_categories() -> None:
    assert problem_type(Category.FOOD, "某新项目") is None
    assert problem_type(Category.ENGINEERING, "毒死蜱") is None


def test_every_item_the_simulator_fails_has_a_type() -> None:
    from producers.simulator.profile import PROFILES

    untyped = {
        (p.category.value, mode.item)
        for p in PROFILES
        for mode in p.failures
        if problem_type(p.category, mode.item) is None
    }
    assert untyped == set()


def test_every_item_the_simulator_fails_has_a_risk_note_naming_its_standard() -> None:
    from producers.simulator.profile import PROFILES
    from reports.risk_notes import item_notes, note_for

    missing = sorted({mode.item for p in PROFILES for mode in p.failures if note_for(mode.item) is None})
    assert missing == []
    notes = item_notes(["菌落总数", "某新检测项目", "菌落总数"])
    assert [(n.item, n.failures, n.note is None) for n in notes] == [("菌落总数", 2, False), ("某新检测项目", 1, True)]
    assert notes[0].note is not None
    assert "GB" in notes[0].note.standard
