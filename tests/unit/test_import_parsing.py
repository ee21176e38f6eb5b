"""Cell parsing shared by the importers: dates written several ways, failed items, provinces."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.importers import import_files
from producers.importers.base import RowError, cell_text, parse_day, parse_failed_items, split_unit
from producers.importers.run import ImportSummary
from qsmon import clock
from qsmon.addresses import locate, locate_within, province_of


class TestParseDay:
    @pytest.mark.parametrize(
        "cell",
        [
            "2026-03-05",
            "2026/3/5",
            "2026.03.05",
            "2026年3月5日",
            "20260305",
            "26年3月5日",
            datetime(2026, 3, 5, 14, 0),
            date(2026, 3, 5),
            46086,
            "2026-03-05/A123",
        ],
    )
    def test_the_ways_bureaus_write_a_day_all_read_as_that_day(self, cell: object) -> None:
        assert parse_day(cell) == date(2026, 3, 5)

    @pytest.mark.parametrize("cell", ["", None, "不是日期", "2026-02-30", "3/5/2026"])
    def test_an_unreadable_day_is_a_row_error(self, cell: object) -> None:
        with pytest.raises(RowError):
            parse_day(cell)

    @given(st.text(max_size=30))
    def test_any_text_is_a_day_or_a_row_error(self, text: str) -> None:
        outcome: date | RowError
        try:
            outcome = parse_day(text)
        except RowError as exc:
            outcome = exc
        assert isinstance(outcome, date) or str(outcome)


class TestFailedItems:
    def test_item_result_and_limit_are_split_with_the_unit(self) -> None:
        (item,) = parse_failed_items("毒死蜱║0.12mg/kg║≤0.02mg/kg")
        assert (item.item, item.measured, item.limit, item.unit) == ("毒死蜱", "0.12", "≤0.02mg/kg", "mg/kg")

    def test_several_items_on_several_lines(self) -> None:
        items = parse_failed_items("苯甲酸║0.161g/kg║≤0.02g/kg\n脱氢乙酸║527μg/kg║不得使用；山梨酸|1.2g/kg|≤0.5g/kg")
        assert [(i.item, i.unit) for i in items] == [("苯甲酸", "g/kg"), ("脱氢乙酸", "μg/kg"), ("山梨酸", "g/kg")]

    def test_free_text_results_stay_whole(self) -> None:
        (item,) = parse_failed_items("苏丹红Ⅳ║检出║不得检出")
        assert (item.measured, item.limit, item.unit) == ("检出", "不得检出", None)

    def test_an_empty_cell_has_no_items(self) -> None:
        assert parse_failed_items(None) == ()

    def test_units_split_off_numbers(self) -> None:
        assert split_unit("1.3×10⁵CFU/g") == ("1.3×10⁵", "CFU/g")
        assert split_unit("≤ 100 μg/kg") == ("≤100", "μg/kg")


class TestPlaces:
    @pytest.mark.parametrize(
        ("name", "code"),
        [
            ("湖北", "420000"),
            ("湖北省", "420000"),
            ("广西壮族自治区", "450000"),
            ("北京市", "110000"),
            ("吉林市场监管厅", "220000"),
            ("火星", None),
        ],
    )
    def test_province_names_map_to_gb_t_2260_codes(self, name: str, code: str | None) -> None:
        assert province_of(name) == code

    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("漳州市龙文区董世川豆制品店", "350603"),  # a unit's name that starts with its county
            ("广西壮族自治区北海市四川南路与新世纪大道交汇处东南角", "450500"),  # an address down to its city
            ("湖北省荆州市洪湖市新堤街道", "421083"),
            ("某某有限公司", None),
            ("/", None),
        ],
    )
    def test_addresses_and_names_give_the_most_specific_division(self, text: str, code: str | None) -> None:
        assert locate(text) == code

    def test_a_place_outside_the_province_is_not_taken(self) -> None:
        assert locate_within(("漳州市龙文区董世川豆制品店",), "420000") is None
        assert locate_within(("某店", "漳州市龙文区董世川豆制品店"), "350000") == "350603"


class TestCellText:
    def test_wrapped_cells_become_one_line(self) -> None:
        assert cell_text("湖北某某食品\r\n有限公司\t ") == "湖北某某食品 有限公司"

    def test_other_control_characters_are_left_for_the_text_rule(self) -> None:
        assert cell_text("a\x00b") == "a\x00b"
        assert cell_text("a\u202eb") == "a\u202eb"  # a direction override is not layout: the row is refused

    def test_invisible_characters_from_web_pages_are_dropped(self) -> None:
        assert cell_text("\ufeff湖北\u200b某某\u2028公司") == "湖北某某 公司"


class TestCsvRows:
    """A dry run through import_files: every format passes the same plausibility checks, row by row."""

    MAPPING = (
        "columns: {sample_id: 编号, product: 名称, sampled_at: 日期, verdict: 判定}\n"
        "constants: {category: food, sampling_type: supervisory, region_code: '420000'}\n"
        "values: {verdict: {合格: pass, 不合格: fail}}\n"
    )

    def import_rows(self, tmp_path: Path, rows: list[str]) -> ImportSummary:
        data = tmp_path / "data.csv"
        data.write_text("编号,名称,日期,判定\n" + "\n".join(rows) + "\n", encoding="utf-8")
        mapping = tmp_path / "mapping.yaml"
        mapping.write_text(self.MAPPING, encoding="utf-8")
        return import_files([data], fmt="csv", sink=None, mapping=mapping)

    def test_a_wrapped_cell_imports_and_a_nul_is_a_row_error_naming_the_field(self, tmp_path: Path) -> None:
        summary = self.import_rows(
            tmp_path, ['A1,"长江\n鲜鱼",2026-03-05,合格', "A2,鲜\x00鱼,2026-03-05,合格", "A3,鲜鱼,2026-03-05,合格"]
        )
        assert (summary.valid, summary.rejected) == (2, 1)
        (rejection,) = summary.rejections
        assert rejection.row == 3  # as Excel or WPS shows the file: the wrapped cell above is one row over two lines
        assert rejection.reason.startswith("product: contains a control or invisible character")

    def test_implausible_dates_are_row_errors(self, tmp_path: Path) -> None:
        future = (clock.now() + timedelta(days=10)).date().isoformat()
        summary = self.import_rows(
            tmp_path, [f"A1,鲜鱼,{future},合格", "A2,鲜鱼,1999-12-31,合格", "A3,鲜鱼,2026-03-05,合格"]
        )
        assert summary.valid == 1
        assert [(r.row, r.reason.split()[0]) for r in summary.rejections] == [(2, "sampled_at"), (3, "row:")]
