"""SAMR's food classes: the table loads with its source, and announcement texts map onto 大类 and 亚类."""

from __future__ import annotations

import pytest

from qsmon.food_classes import Classified, classify, food_classes


def test_the_table_has_the_33_classes_in_order_with_its_source() -> None:
    table = food_classes()
    assert "食品安全抽样检验实施细则" in table.source
    assert [c.order for c in table.classes] == list(range(1, 34))
    names = [c.name for c in table.classes]
    assert len(set(names)) == len(names)
    assert (names[0], names[24], names[-1]) == ("粮食加工品", "豆制品", "食用农产品")


@pytest.mark.parametrize(("texts", "expected"), [
    (("粮食加工品",), Classified("粮食加工品")),
    (("豆及豆制品-->非发酵豆制品",), Classified("豆制品")),  # foodmate's path: the last segment decides
    (("非发酵性豆制品",), Classified("豆制品", "非发酵性豆制品")),
    (("豆及豆制品-->豆类",), Classified("食用农产品", "豆类")),  # beans are an edible agricultural product
    (("淀粉及淀粉制品-->淀粉糖",), Classified("淀粉及淀粉制品", "淀粉糖")),
    (("蔬菜制品",), Classified("蔬菜制品")),  # not 蔬菜 (食用农产品): the longest name wins
    (("蔬菜",), Classified("食用农产品", "蔬菜")),
    ((None, "纯牛奶(液体乳)"), Classified("乳制品", "液体乳")),  # no 分类: the 食品名称 is read
    (("其他", "苏打饼干"), Classified("饼干")),
])
def test_announcement_texts_map_onto_classes(texts: tuple[str | None, ...], expected: Classified) -> None:
    assert classify(*texts) == expected


def test_a_text_naming_no_class_is_none_for_the_caller_to_report() -> None:
    assert classify("其他", "神秘物品") is None
    assert classify(None, None) is None


def test_the_simulators_food_streams_are_samr_classes() -> None:
    """The demo's 分类 breakdowns of food are by 大类, as imported announcements are."""
    from producers.simulator.profile import PROFILES
    from qsmon.vocab import Category

    names = {c.name for c in food_classes().classes}
    food = {p.subcategory for p in PROFILES if p.category is Category.FOOD}
    assert food
    assert food <= names
