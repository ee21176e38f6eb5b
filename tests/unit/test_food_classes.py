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


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (("粮食加工品",), Classified("粮食加工品")),
        (("豆及豆制品-->非发酵豆制品",), Classified("豆制品")),  # foodmate's path: the last segment decides
        (("非发酵性豆制品",), Classified("豆制品", "非发酵性豆制品")),
        (("豆及豆制品-->豆类",), Classified("食用农产品", "豆类")),  # beans are an edible agricultural product
        (("淀粉及淀粉制品-->淀粉糖",), Classified("淀粉及淀粉制品", "淀粉糖")),
        (("蔬菜制品",), Classified("蔬菜制品")),  # not 蔬菜 (食用农产品): the longest name wins
        (("蔬菜",), Classified("食用农产品", "蔬菜")),
        ((None, "纯牛奶(液体乳)"), Classified("乳制品", "液体乳", "液体乳")),  # no 分类: the 食品名称 is read
        (("其他", "苏打饼干"), Classified("饼干", "饼干", "饼干")),  # a product's common name: down to its 品种
        ((None, "鸡精"), Classified("调味品", "复合调味料", "固体复合调味料")),
        ((None, "太太乐鸡精调味料"), Classified("调味品", "复合调味料", "固体复合调味料")),
        ((None, "味精"), Classified("调味品", "味精")),  # a 亚类 name: the broader level wins
        ((None, "食用动物油"), Classified("食用油、油脂及其制品", "食用动物油脂", "食用动物油脂")),
        ((None, "精炼猪油"), Classified("食用油、油脂及其制品", "食用动物油脂", "食用动物油脂", "猪油")),
        ((None, "豌豆粉丝"), Classified("淀粉及淀粉制品", "淀粉制品", "淀粉制品")),  # not 豌豆: the name ends with it
        (
            (None, "香菇豆干（鸡汁味）"),
            Classified("豆制品", "非发酵性豆制品", "非发酵性豆制品"),
        ),  # a flavour in brackets
        ((None, "马铃薯粉条"), Classified("淀粉及淀粉制品", "淀粉制品", "淀粉制品")),
        ((None, "香菇手磨豆干"), Classified("豆制品", "非发酵性豆制品", "非发酵性豆制品")),
        ((None, "大豆油"), Classified("食用油、油脂及其制品", "食用植物油", "食用植物油", "大豆油")),  # not 大豆
        (("鸡粉、鸡精调味料",), Classified("调味品", "复合调味料", "固体复合调味料", "鸡粉、鸡精调味料")),  # a 细类
    ],
)
def test_announcement_texts_map_onto_classes(texts: tuple[str | None, ...], expected: Classified) -> None:
    assert classify(*texts) == expected


def test_every_class_but_the_two_without_a_breakdown_has_varieties_and_details() -> None:
    """The 细则's four levels: 大类, 亚类, 品种, 细类 (保健食品 is sampled by its own rules, 细类 by product)."""
    for food_class in food_classes().classes:
        if food_class.name == "保健食品":
            continue
        assert food_class.subclasses, food_class.name
        for sub in food_class.subclasses:
            assert sub.varieties, (food_class.name, sub.name)
            assert all(v.details for v in sub.varieties), (food_class.name, sub.name)


def test_no_name_means_two_things_at_the_same_level_across_classes() -> None:
    """A 细类 or product name listed under two 大类 would classify by the table's order, silently."""
    seen: dict[str, str] = {}
    for food_class in food_classes().classes:
        for sub in food_class.subclasses:
            for variety in sub.varieties:
                for name in (*variety.details, *variety.products):
                    assert seen.setdefault(name, food_class.name) == food_class.name, name


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
