"""Places as results from other years name them: former county names, autonomous counties' short names, wrapped
cells; resolved to today's GB/T 2260 codes from the standard's own revisions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pytest

from producers.importers import import_files
from producers.importers.base import ImportRow
from producers.importers.samr import SamrOptions, read_samr
from qsmon.addresses import place, place_within
from qsmon.place_history import former_names, resolve, stem
from qsmon.regions import name_of


class TestFormerNames:
    @pytest.mark.parametrize(
        ("text", "within", "code"),
        [
            ("重庆市铜梁县巴川街道", None, "500151"),  # 铜梁县 became 铜梁区 (2014), a new code under 5001
            ("荣昌县昌元街道", "500000", "500153"),
            ("璧山县", "500000", "500120"),
            ("开县汉丰镇", "500000", "500154"),  # 开县 -> 开州区: the stem grew
            ("湟中县鲁沙尔镇", "630000", "630106"),
            ("山西省太谷县", "140000", "140703"),  # renamed in 2019, after the package's last revision: today's table
            ("河北省任县", "130000", "130505"),  # 任县 -> 任泽区, a new stem, the one new district of 邢台
            ("新津县五津镇", "510000", "510118"),
        ],
    )
    def test_a_county_renamed_since_lands_in_todays_division(self, text: str, within: str | None, code: str) -> None:
        found = resolve(text, within=within, on=date(2015, 6, 1))
        assert found is not None, text
        assert found.code == code, (text, found)

    @pytest.mark.parametrize(
        ("text", "within", "code"),
        [
            ("焉耆县七个星镇", "650000", "652826"),
            ("循化县", "630000", "630225"),
            ("化隆", "630000", "630224"),
            ("酉阳县", "500000", "500242"),
        ],
    )
    def test_an_autonomous_countys_short_name_resolves(self, text: str, within: str, code: str) -> None:
        found = resolve(text, within=within)
        assert found is not None
        assert found.code == code
        assert name_of(code).endswith("自治县")

    def test_a_bare_short_name_needs_the_row_to_name_its_province(self) -> None:
        assert resolve("化隆", within=None) is None
        assert resolve("化隆", within="630000") is not None

    def test_a_short_name_that_is_also_a_citys_stem_says_neither(self) -> None:
        # 阜新 is 阜新市 as much as 阜新蒙古族自治县: today's parser reads the city, history adds nothing.
        assert "阜新" not in former_names()
        assert place("辽宁省阜新市海州区") is not None

    def test_a_name_several_divisions_had_is_not_guessed(self) -> None:
        # 城区 was a district of several cities: outside one of them it names none.
        assert resolve("城区", within=None) is None

    def test_names_still_in_use_are_left_to_the_address_parser(self) -> None:
        assert "铜梁区" not in former_names()
        assert "洪湖市" not in former_names()

    def test_stems_drop_the_kind_and_the_peoples_of_an_autonomous_county(self) -> None:
        assert [stem(n) for n in ("铜梁县", "铜梁区", "焉耆回族自治县", "双江拉祜族佤族布朗族傣族自治县")] == [
            "铜梁",
            "铜梁",
            "焉耆",
            "双江",
        ]


class TestPlaces:
    def test_a_wrapped_cell_names_its_county(self) -> None:
        found = place("成都市郫都 区")  # 成都市郫都\n区 as one line of text
        assert found is not None
        assert found.code == "510117"

    def test_todays_county_needs_no_history_and_says_no_former_name(self) -> None:
        assert place("湖北省荆州市洪湖市新堤街道") == place("湖北省荆州市洪湖市新堤街道", "420000")
        found = place("湖北省荆州市洪湖市新堤街道")
        assert found is not None
        assert (found.code, found.former) == ("421083", None)

    def test_a_county_found_outside_the_province_gives_way_to_a_former_name_inside_it(self) -> None:
        # The parser reads 丰镇市 (内蒙古) inside 汉丰镇; in 重庆's row it is 开县.
        found = place_within(("开县汉丰镇某超市",), "500000")
        assert found is not None
        assert (found.code, found.former) == ("500154", "开县")


def _book(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "食品安全监督抽检合格产品信息"
    sheet.append(
        [
            "序号",
            "标称生产企业名称",
            "标称生产企业地址",
            "被抽样单位名称",
            "被抽样单位地址",
            "被抽样单位所在省份",
            "食品名称",
            "分类",
            "公告日期",
            "任务来源/项目名称",
        ]
    )
    for r in rows:
        sheet.append(r)
    book.save(path)
    return path


class TestImportAcrossHistory:
    def test_rows_of_2015_naming_former_and_short_names_land_in_todays_counties(self, tmp_path: Path) -> None:
        path = _book(
            tmp_path / "2015.xlsx",
            [
                [
                    1,
                    "某厂",
                    "山西省太谷县胡村镇",
                    "铜梁县某超市",
                    "重庆市铜梁县巴川街道",
                    "重庆",
                    "腐竹",
                    "豆制品",
                    "2015-06-02",
                    "重庆市食品药品监督管理局（省抽）",
                ],
                [2, "某厂", None, "某超市", "焉耆县七个星镇", "新疆", "腐竹", "豆制品", "2015-06-02", "国抽"],
                [3, "某厂", None, "某店", "成都市郫都\n区红光街道", "四川", "腐竹", "豆制品", "2020-06-02", "国抽"],
                [4, "某厂", None, "某店", None, "循化县", "腐竹", "豆制品", "2015-06-02", "国抽"],
            ],
        )
        rows = [o for o in read_samr(path, SamrOptions()) if isinstance(o, ImportRow)]
        assert [(r.result.region_code, r.former_place) for r in rows] == [
            ("500151", "铜梁县"),
            ("652826", "焉耆县"),
            ("510117", None),
            ("630225", "循化县"),
        ]
        assert rows[0].result.manufacturer_region_code == "140703"  # 太谷县 in the manufacturer's address
        assert rows[0].result.sampled_unit_address == "重庆市铜梁县巴川街道"  # the historical name is kept
        summary = import_files([path], fmt=None, sink=None)
        assert (summary.placed_in_county, summary.former_places["铜梁县->铜梁区"]) == (4, 1)
