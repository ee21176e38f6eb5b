"""Workbooks and CSV files as bureaus really save them: nothing lost, nothing counted twice, every skip said."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from producers.exceptions import ImportFormatError
from producers.importers import import_files
from producers.importers.base import ImportRow, Rejection, SheetNote, parse_failed_items
from producers.importers.csv_mapped import load_mapping, read_csv
from producers.importers.run import ImportSummary
from producers.importers.samr import SamrOptions, read_samr
from qsmon.vocab import RetestStatus, SamplingLevel, Verdict

HEADER: list[object] = [
    "序号",
    "抽样编号",
    "标称生产企业名称",
    "被抽样单位名称",
    "被抽样单位所在省份",
    "食品名称",
    "不合格项目║检验结果║标准值",
    "公告日期",
    "任务来源/项目名称",
    "备注",
]


def row(
    n: int,
    number: object = None,
    *,
    product: str = "腐竹",
    items: str | None = None,
    task: str = "湖北省市场监督管理局",
    remark: str | None = None,
) -> list[object]:
    return [n, number, "某厂", "洪湖市某超市", "湖北", product, items, "2026-03-02", task, remark]


def workbook(path: Path, sheets: dict[str, list[list[object]]], hidden: tuple[str, ...] = ()) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.worksheets[0])
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for values in rows:
            sheet.append(values)
        if title in hidden:
            sheet.sheet_state = "hidden"
    book.save(path)
    return path


def outcomes(path: Path, options: SamrOptions | None = None) -> list[ImportRow | Rejection | SheetNote]:
    return list(read_samr(path, options or SamrOptions()))


def events(path: Path) -> list[ImportRow]:
    return [o for o in outcomes(path) if isinstance(o, ImportRow)]


class TestRowsAreNotLost:
    def test_a_stale_dimension_in_the_sheet_file_loses_no_row_or_column(self, tmp_path: Path) -> None:
        saved = workbook(tmp_path / "saved.xlsx", {"合格产品信息": [HEADER] + [row(n) for n in range(1, 41)]})
        stale = tmp_path / "stale.xlsx"  # as other software writes it: the dimension tag says A1:F22
        with zipfile.ZipFile(saved) as source, zipfile.ZipFile(stale, "w") as target:
            for item in source.infolist():
                data = source.read(item.filename)
                if item.filename.startswith("xl/worksheets/sheet"):
                    data, count = re.subn(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:F22"', data)
                    assert count == 1
                target.writestr(item, data)
        rows = events(stale)
        assert len(rows) == 40
        assert {r.result.sampling_level for r in rows} == {SamplingLevel.PROVINCIAL}  # column I, past F

    def test_a_header_under_many_note_rows_is_found_and_a_sheet_without_one_is_named(self, tmp_path: Path) -> None:
        notes: list[list[object]] = [[f"说明{n}"] for n in range(11)]
        path = workbook(
            tmp_path / "公告.xlsx",
            {
                "封面": [["食品安全监督抽检信息"], ["2026年第3期"]],
                "不合格产品信息": [*notes, HEADER, row(1, items="苯甲酸║0.5g/kg║不得使用")],
            },
        )
        found = outcomes(path)
        assert [(o.sheet, o.row) for o in found if isinstance(o, ImportRow)] == [("不合格产品信息", 13)]
        (skipped,) = [o for o in found if isinstance(o, SheetNote)]
        assert skipped.sheet == "封面"
        assert skipped.note.startswith("skipped: no SAMR header row")

    def test_columns_not_read_and_hidden_sheets_are_said(self, tmp_path: Path) -> None:
        path = workbook(
            tmp_path / "公告.xlsx",
            {"合格产品信息": [[*HEADER, "抽样人员"], row(1, "DC1")], "合格(备份)": [HEADER, row(1, "DC1")]},
            hidden=("合格(备份)",),
        )
        summary = import_files([path], fmt="samr", sink=None)
        assert [(n.sheet, n.note) for n in summary.notes] == [
            ("合格产品信息", "columns not read: 抽样人员"),
            ("合格(备份)", "hidden in the workbook; imported all the same"),
        ]
        assert (summary.valid, summary.repeated) == (2, 1)  # the backup's copy is named, and stored once

    def test_a_two_row_header_under_a_merged_failed_items_header_joins_its_three_columns(self, tmp_path: Path) -> None:
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "不合格产品信息"
        sheet.append([*HEADER[:6], "不合格项目║检验结果║标准值", None, None, *HEADER[7:]])
        sheet.append([None] * 6 + ["不合格项目", "检验结果", "标准值"])
        sheet.append(
            [
                1,
                "DC1",
                "某厂",
                "洪湖市某超市",
                "湖北",
                "腐竹",
                "苯甲酸",
                "0.5g/kg",
                "不得使用",
                "2026-03-02",
                "湖北省市场监督管理局",
                None,
            ]
        )
        sheet.merge_cells("G1:I1")
        path = tmp_path / "两行表头.xlsx"
        book.save(path)
        (only,) = outcomes(path)
        assert isinstance(only, ImportRow)
        assert only.row == 3
        assert [(i.item, i.measured, i.limit) for i in only.result.failed_items] == [("苯甲酸", "0.5", "不得使用")]


class TestKeys:
    def test_a_renamed_copy_gives_the_same_keys_unless_keys_follow_the_file_name(self, tmp_path: Path) -> None:
        rows = [HEADER, row(1, product="腐竹"), row(2, product="豆干")]
        first = workbook(tmp_path / "公告.xlsx", {"合格产品信息": rows})
        copy = workbook(tmp_path / "公告 (1).xlsx", {"合格产品信息": rows})
        keys = [r.result.sample_id for r in events(first)]
        assert keys == [r.result.sample_id for r in events(copy)]
        assert len(set(keys)) == 2
        by_name = SamrOptions(keys_by_file_name=True)
        legacy = [[o.result.sample_id for o in outcomes(p, by_name) if isinstance(o, ImportRow)] for p in (first, copy)]
        assert legacy[0] != legacy[1]
        assert not set(legacy[0]) & set(keys)

    def test_the_same_product_of_the_same_firm_in_another_announcement_is_another_sample(self, tmp_path: Path) -> None:
        first = workbook(tmp_path / "第1期.xlsx", {"合格产品信息": [HEADER, row(1)]})
        later = [HEADER, row(1)]
        later[1][7] = "2026-04-02"  # 公告日期: the next announcement lists the same product again
        second = workbook(tmp_path / "第2期.xlsx", {"合格产品信息": later})
        assert events(first)[0].result.sample_id != events(second)[0].result.sample_id

    def test_a_long_sample_number_excel_stored_as_a_number_is_refused_not_rounded(self, tmp_path: Path) -> None:
        path = workbook(tmp_path / "公告.xlsx", {"合格产品信息": [HEADER, row(1, 20260305000123456789)]})
        (rejected,) = outcomes(path)
        assert isinstance(rejected, Rejection)
        assert "format the column as text" in rejected.reason

    def test_sample_numbers_in_full_width_or_with_a_province_word_stay_apart(self, tmp_path: Path) -> None:
        path = workbook(
            tmp_path / "公告.xlsx",
            {
                "合格产品信息": [
                    HEADER,
                    row(1, "ＤＢＪ２６４２０００００１"),
                    row(2, "ＤＢＪ２６４２０００００２"),
                    row(3, "鄂2026001"),
                    row(4, "湘2026001"),
                ]
            },
        )
        keys = [r.result.sample_id for r in events(path)]
        assert keys[:2] == ["SAMR-DBJ2642000001", "SAMR-DBJ2642000002"]
        assert len(set(keys)) == 4

    def test_rows_repeating_a_sample_are_counted_and_named(self, tmp_path: Path) -> None:
        path = workbook(
            tmp_path / "公告.xlsx",
            {
                "合格产品信息": [HEADER, row(1, "DC1"), row(2, "DC2")],
                "不合格产品信息": [HEADER, row(1, "DC1", items="苯甲酸║0.5g/kg║不得使用")],
            },
        )
        summary = import_files([path], fmt="samr", sink=None)
        assert (summary.valid, summary.repeated) == (3, 1)
        assert [(r.sheet, r.row, r.result.sample_id) for r in summary.repeats] == [("不合格产品信息", 2, "SAMR-DC1")]


class TestVerdictsAndRevisions:
    def test_a_verdict_column_decides_each_row_of_a_mixed_sheet(self, tmp_path: Path) -> None:
        header = [*HEADER, "检验结论"]
        path = workbook(
            tmp_path / "抽检结果.xlsx",
            {
                "Sheet1": [
                    header,
                    [*row(1, "DC1"), "合格"],
                    [*row(2, "DC2", items="苯甲酸║0.5g/kg║不得使用"), "不合格"],
                    [*row(3, "DC3"), "符合"],
                    [*row(4, "DC4"), "待定"],
                ]
            },
        )
        found = outcomes(path)
        assert [(o.result.sample_id, o.result.verdict) for o in found if isinstance(o, ImportRow)] == [
            ("SAMR-DC1", Verdict.PASS),
            ("SAMR-DC2", Verdict.FAIL),
            ("SAMR-DC3", Verdict.PASS),
        ]
        (rejected,) = [o for o in found if isinstance(o, Rejection)]
        assert (rejected.row, rejected.reason) == (5, "检验结论 '待定' says neither 合格 nor 不合格")

    def test_a_conclusion_column_of_another_kind_is_not_a_verdict(self, tmp_path: Path) -> None:
        path = workbook(
            tmp_path / "公告.xlsx",
            {"不合格产品信息": [[*HEADER, "结论"], [*row(1, "DC1", items="苯甲酸║0.5g/kg║不得使用"), "整改合格"]]},
        )
        found = outcomes(path)
        assert [o.result.verdict for o in found if isinstance(o, ImportRow)] == [Verdict.FAIL]
        assert [o.note for o in found if isinstance(o, SheetNote)] == ["columns not read: 结论"]

    def test_a_bare_conclusion_column_decides_the_rows_of_a_sheet_whose_title_says_neither(
        self, tmp_path: Path
    ) -> None:
        path = workbook(
            tmp_path / "抽检结果.xlsx",
            {
                "Sheet1": [
                    [*HEADER, "结论"],
                    [*row(1, "DC1"), "合格"],
                    [*row(2, "DC2", items="苯甲酸║0.5g/kg║不得使用"), "不合格"],
                ]
            },
        )
        assert [o.result.verdict for o in outcomes(path) if isinstance(o, ImportRow)] == [Verdict.PASS, Verdict.FAIL]

    def test_verdict_cells_are_read_strictly_and_an_empty_one_leaves_the_sheets(self, tmp_path: Path) -> None:
        header = [*HEADER, "检验结论"]
        path = workbook(
            tmp_path / "公告.xlsx",
            {
                "不合格产品信息": [
                    header,
                    [*row(1, "DC1", items="苯甲酸║0.5g/kg║不得使用"), "符合性判定依据GB 2760"],
                    [*row(2, "DC2", items="苯甲酸║0.5g/kg║不得使用"), "/"],
                    [*row(3, "DC3"), "合格（复检）"],
                ]
            },
        )
        found = outcomes(path)
        assert [(o.row, o.reason) for o in found if isinstance(o, Rejection)] == [
            (2, "检验结论 '符合性判定依据GB 2760' says neither 合格 nor 不合格")
        ]
        assert [
            (o.result.sample_id, o.result.verdict, o.result.revision) for o in found if isinstance(o, ImportRow)
        ] == [("SAMR-DC2", Verdict.FAIL, 1), ("SAMR-DC3", Verdict.PASS, 2)]

    @pytest.mark.parametrize(
        "remark",
        [
            "企业已申请复检",
            "企业提出复检",
            "复检尚未完成",
            "复检结果待定",
            "企业放弃复检",
            "企业未提出复检",
            "申请复检，复检结果是否合格待定",
            "复检符合性审查中",
        ],
    )
    def test_remarks_of_a_retest_to_come_or_not_asked_leave_the_first_result(self, tmp_path: Path, remark: str) -> None:
        path = workbook(
            tmp_path / "公告.xlsx",
            {"不合格产品信息": [HEADER, row(1, "DC1", items="苯甲酸║0.5g/kg║不得使用", remark=remark)]},
        )
        assert [r.result.revision for r in events(path)] == [1]

    @pytest.mark.parametrize(
        "remark", ["经复检,维持原检验结论", "复检合格", "已申请复检，复检结论维持原检验结论", "复检结果为不合格"]
    )
    def test_remarks_telling_a_retests_outcome_make_revision_two(self, tmp_path: Path, remark: str) -> None:
        path = workbook(
            tmp_path / "公告.xlsx",
            {"不合格产品信息": [HEADER, row(1, "DC1", items="苯甲酸║0.5g/kg║不得使用", remark=remark)]},
        )
        assert [r.result.revision for r in events(path)] == [2]

    def test_a_retest_still_to_come_is_not_a_retest_result(self, tmp_path: Path) -> None:
        path = workbook(
            tmp_path / "公告.xlsx",
            {
                "不合格产品信息": [
                    HEADER,
                    row(1, "DC1", items="苯甲酸║0.5g/kg║不得使用", remark="企业已申请复检"),
                    row(2, "DC2", items="苯甲酸║0.5g/kg║不得使用", remark="经复检,维持原检验结论"),
                ]
            },
        )
        pending, retested = events(path)
        assert (pending.result.revision, pending.result.retest_status) == (1, None)
        assert (retested.result.revision, retested.result.retest_status) == (2, RetestStatus.UPHELD)

    def test_the_organiser_is_the_most_specific_division_its_name_says(self, tmp_path: Path) -> None:
        tasks = [
            "国家市场监督管理总局",
            "湖北省市场监督管理局",
            "湖北省荆州市市场监督管理局",
            "荆州市沙市区市场监督管理局",
            "上海市市场监督管理局",
            "恩施州市场监督管理局",
            "湖北省市场监督管理局（承检：荆州市）",
            "松滋市市场监督管理局",
            "湖北省荆州市食品安全监督抽检",
            "杭州市西湖区食品抽检",
            "贵州市场监管局（省抽）",
            "国内监督抽查(贵州市场监管局)",
            "吉林市场监管厅",
            "天津市市场监管委员会",
            "湖北省市场监督管理局【市抽】",
            "2015年县抽",
            "国抽",
            "松滋市抽检",
            "国内监督抽查(国家市场监管总局)",
        ]
        rows: list[list[object]] = [HEADER, *(row(n, f"DC{n}", task=task) for n, task in enumerate(tasks, 1))]
        path = workbook(tmp_path / "公告.xlsx", {"合格产品信息": rows})
        assert [r.result.sampling_level for r in events(path)] == [
            SamplingLevel.NATIONAL,
            SamplingLevel.PROVINCIAL,
            SamplingLevel.CITY,
            SamplingLevel.COUNTY,
            SamplingLevel.PROVINCIAL,
            SamplingLevel.CITY,
            SamplingLevel.PROVINCIAL,
            SamplingLevel.COUNTY,
            SamplingLevel.CITY,
            SamplingLevel.COUNTY,
            SamplingLevel.PROVINCIAL,
            SamplingLevel.PROVINCIAL,
            SamplingLevel.PROVINCIAL,
            SamplingLevel.PROVINCIAL,
            SamplingLevel.CITY,
            SamplingLevel.COUNTY,
            SamplingLevel.NATIONAL,
            SamplingLevel.COUNTY,
            SamplingLevel.NATIONAL,
        ]


class TestFailedItemsOverLines:
    def test_microbiology_results_over_five_lines_are_one_item(self) -> None:
        (item,) = parse_failed_items(
            "大肠菌群║1.3×10⁵CFU/g；\n2.8×10³CFU/g；\n＜10CFU/g；\n5.2×10⁴CFU/g；\n"
            "6.3×10⁴CFU/g║n=5,c=2,m=10²CFU/g,\nM=10³CFU/g"
        )
        assert item.item == "大肠菌群"
        assert item.measured == "1.3×10⁵CFU/g；2.8×10³CFU/g；＜10CFU/g；5.2×10⁴CFU/g；6.3×10⁴CFU/g"
        assert (item.limit, item.unit) == ("n=5,c=2,m=10²CFU/g, M=10³CFU/g", "CFU/g")

    def test_numbered_values_html_exponents_comma_lists_and_wrapped_units(self) -> None:
        (numbered,) = parse_failed_items(
            "菌落总数║①2.0×10<sup>5</sup>CFU/g；\n②1.8×10<sup>4</sup>CFU/g；\n"
            "⑤1.8×10<sup>4</sup>CFU/g║n=5,c=2,m=10⁴CFU/g,M=10⁵CFU/g"
        )
        assert (numbered.measured, numbered.unit) == ("2.0×10^5CFU/g；1.8×10^4CFU/g；1.8×10^4CFU/g", "CFU/g")
        (listed,) = parse_failed_items("大肠菌群║1.3×10⁵,2.8×10³,3.8×10³CFU/g║n=5")
        assert (listed.measured, listed.unit) == ("1.3×10⁵；2.8×10³；3.8×10³CFU/g", "CFU/g")
        (wrapped,) = parse_failed_items("铅║0.8\nmg/kg║≤0.5mg/kg")
        assert (wrapped.item, wrapped.measured, wrapped.unit) == ("铅", "0.8", "mg/kg")
        (ranged,) = parse_failed_items("pH║3.2║4.0-6.0")
        assert (ranged.limit, ranged.unit) == ("4.0-6.0", None)
        (thousands,) = parse_failed_items("菌落总数║1,200CFU/g║≤1,000CFU/g")
        assert (thousands.measured, thousands.unit) == ("1,200", "CFU/g")

    def test_a_wrapped_limit_stays_with_its_item_and_items_without_limits_stay_apart(self) -> None:
        (item,) = parse_failed_items("毒死蜱║0.12mg/kg║\n≤0.02mg/kg")
        assert (item.item, item.measured, item.limit) == ("毒死蜱", "0.12", "≤0.02mg/kg")
        assert [i.item for i in parse_failed_items("铅║0.5mg/kg\n镉║0.3mg/kg")] == ["铅", "镉"]
        assert [i.item for i in parse_failed_items("铅；镉")] == ["铅", "镉"]


class TestCsvAsSaved:
    MAPPING = (
        "columns: {product: 名称, sampled_at: 日期, verdict: 判定}\n"
        "constants: {category: food, sampling_type: supervisory, region_code: '420000'}\n"
        "values: {verdict: {合格: pass, 不合格: fail}}\n"
        "failed_items: {item: 项目, measured: 结果, limit: 限量}\n"
    )

    def run(
        self, tmp_path: Path, body: str, encoding: str = "utf-8", mapping: str | None = None
    ) -> tuple[ImportSummary, Path]:
        data = tmp_path / "data.csv"
        data.write_bytes(("名称,日期,判定,项目,结果,限量\n" + body).encode(encoding))
        mapping_file = tmp_path / "mapping.yaml"
        mapping_file.write_text(mapping or self.MAPPING, encoding="utf-8")
        rejects = tmp_path / "rejects.csv"
        return import_files([data], fmt="csv", sink=None, mapping=mapping_file, rejects_path=rejects), rejects

    def read(self, tmp_path: Path) -> list[ImportRow]:
        """The rows the last run's file gives, as events."""
        mapping = load_mapping(tmp_path / "mapping.yaml")
        return [r for r in read_csv(tmp_path / "data.csv", mapping, "Asia/Shanghai") if isinstance(r, ImportRow)]

    def test_a_short_row_is_rejected_with_its_row_and_its_neighbours_import(self, tmp_path: Path) -> None:
        summary, rejects = self.run(tmp_path, "鲜鱼,2026-03-05,合格,,,\n豆干,2026-03-05\n腐竹,2026-03-05,合格,,,\n")
        assert (summary.valid, summary.rejected) == (2, 1)
        (rejection,) = summary.rejections
        assert (rejection.row, rejection.raw) == (3, "豆干,2026-03-05,,,,")
        assert "verdict" in rejection.reason
        assert rejects.exists()

    def test_a_gbk_file_imports_without_saying_its_encoding(self, tmp_path: Path) -> None:
        body = "鲜鱼,2026-03-05,合格,,,\n豆干,2026-03-05,不合格,苯甲酸,0.5g/kg,不得使用\n"
        summary, rejects = self.run(tmp_path, body, encoding="gbk")
        assert (summary.valid, summary.rejected) == (2, 0)
        assert not rejects.exists()  # no rejects, no file

    def test_wrapped_result_and_limit_cells_import_as_one_item(self, tmp_path: Path) -> None:
        summary, _ = self.run(
            tmp_path, '豆干,2026-03-05,不合格,大肠菌群,"1.3×10⁵CFU/g；\n2.8×10³CFU/g","n=5,c=2,\nM=10³CFU/g"\n'
        )
        assert (summary.valid, summary.rejected) == (1, 0)
        (item,) = self.read(tmp_path)[0].result.failed_items
        assert (item.measured, item.limit, item.unit) == ("1.3×10⁵CFU/g；2.8×10³CFU/g", "n=5,c=2, M=10³CFU/g", "CFU/g")

    def test_rows_are_numbered_as_excel_shows_them_blank_lines_and_wrapped_cells_alike(self, tmp_path: Path) -> None:
        summary, _ = self.run(
            tmp_path,
            '鲜鱼,2026-03-05,合格,,,\n\n"豆\n干",不是日期,合格,,,\n'
            "腐竹,2026-03-05,合格,,,x\n粉丝,2026-03-05,合格,,,,多出\n",
        )
        assert [(r.row, r.reason.split(":")[0]) for r in summary.rejections] == [
            (4, "日期"),
            (6, "7 cells in a row under 6 headers"),
        ]
        assert summary.valid == 2

    def test_a_gbk_file_ascii_for_its_first_megabytes_or_ending_in_chinese_is_found(self, tmp_path: Path) -> None:
        mapping = self.MAPPING.replace("{合格: pass, 不合格: fail}", "{合格: pass, 不合格: fail, ok: pass}")
        ascii_head = "".join(f"f{i:07d},2026-03-05,ok,,,\n" for i in range(70_000))  # ~2 MB before any Chinese
        summary, _ = self.run(tmp_path, ascii_head + "豆干,2026-03-05,合格,,,\r\n", encoding="gbk", mapping=mapping)
        assert (summary.valid, summary.rejected) == (70_001, 0)
        tiny, _ = self.run(tmp_path, "豆干,2026-03-05,合格,,,\r\n", encoding="gbk")  # ends in a 2-byte character
        assert (tiny.valid, tiny.rejected) == (1, 0)

    def test_a_cell_past_csvs_field_limit_stops_the_import_naming_the_row(self, tmp_path: Path) -> None:
        with pytest.raises(ImportFormatError, match="cannot be read past row 2"):
            self.run(tmp_path, '鲜鱼,2026-03-05,合格,,,\n"' + "x" * 200_000 + '",2026-03-05,合格,,,\n')
