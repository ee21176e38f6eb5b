"""Mapping as a guided step: `--suggest-mapping` writes a mapping from a table's Chinese column names, and a mapped
CSV or workbook is read by the announcement reader, with places, classes, levels and failed items."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from producers.exceptions import ImportFormatError
from producers.importers import import_files
from producers.importers.base import ImportRow
from producers.importers.csv_mapped import load_mapping
from producers.importers.mapping import suggest
from producers.importers.run import read_file
from producers.importers.samr import SamrOptions
from qsmon.vocab import SamplingLevel, Verdict
from tests.real_data import FOODMATE, require

# The columns of foodmate.net's scrape (shared/data/real's README), with rows written here.
FOODMATE_HEADER = (
    "信息来源,搜索条件,物料名称,产品分类,生产商,供应商,生产日期,批号,项目分类,检测项目,单位,检测结果,"
    "限量值,判定,发布单位,发布日期,备注"
)
FOODMATE_ROWS = [
    ",,腐竹,豆及豆制品-->非发酵豆制品,重庆市某食品有限公司 ,铜梁县某超市 ,2015-06-02,,,,,,,合格,"
    "国内监督抽查(重庆市场监管局),2015-06-02,",
    ',,鸡精,,某调味品有限公司 ,新疆焉耆县某商店 ,2015-07-01,,,"呈味核苷酸二钠",,"0.8g/100g",≥1.1g/100g,不合格,'
    "国内监督抽查(新疆市场监管局),2015-07-01,",
    ',,食用动物油,,某油脂厂 ,"成都市郫都\n区某店 ",2020-09-03,,,,,,,合格,国内监督抽查(国家市场监管总局),2020-09-03,',
]


def foodmate_csv(path: Path) -> Path:
    path.write_text("\r\n".join([FOODMATE_HEADER, *FOODMATE_ROWS]) + "\r\n", encoding="utf-8")
    return path


class TestSuggestion:
    def test_the_chinese_names_of_a_scraped_table_map_onto_the_announcement_fields(self) -> None:
        suggestion = suggest([["说明"], FOODMATE_HEADER.split(",")])
        assert suggestion.row == 2
        assert suggestion.headers["物料名称"] == ["product"]
        assert suggestion.headers["发布单位"] == ["task", "province"]
        assert [suggestion.headers[c] for c in ("检测项目", "检测结果", "限量值")] == [["failed_items"]] * 3
        assert suggestion.unread == ["信息来源", "搜索条件", "项目分类", "单位"]

    @pytest.mark.parametrize(
        "names",
        [
            ["产品名称", "通报时间", "抽检结果"],
            ["食品名称", "公告日期", "检验结论"],
            ["样品名称", "公告日期", "判定结果"],
        ],
    )
    def test_the_synonyms_the_issue_names(self, names: list[str]) -> None:
        assert list(suggest([names]).headers.values()) == [["product"], ["notice_date"], ["verdict"]]

    def test_a_header_naming_nothing_known_is_a_clear_error(self) -> None:
        with pytest.raises(ImportFormatError, match="write the mapping by hand"):
            suggest([["a", "b", "c"], [1, 2, 3]])


class TestSuggestedMappingImports:
    def test_suggest_mapping_then_import_gives_places_classes_levels_and_items(self, tmp_path: Path) -> None:
        data = foodmate_csv(tmp_path / "调味品.csv")
        out = CliRunner().invoke(app, ["import", str(data), "--suggest-mapping"])
        assert out.exit_code == 0, out.output
        mapping = tmp_path / "调味品.csv.mapping.yaml"
        assert yaml.safe_load(mapping.read_text(encoding="utf-8"))["headers"]["判定"] == ["verdict"]
        rows = [o for o in read_file(data, "csv", mapping=mapping, samr=SamrOptions()) if isinstance(o, ImportRow)]
        assert [r.row for r in rows] == [2, 3, 4]  # rows as Excel numbers them: row 4's cell wraps
        first, chicken, lard = (r.result for r in rows)
        assert (first.region_code, rows[0].former_place) == ("500151", "铜梁县")  # 铜梁县 (2015) is 铜梁区 today
        assert first.subcategory == "豆制品"
        assert first.sampling_level is SamplingLevel.PROVINCIAL  # 重庆市场监管局: a province's bureau
        assert (chicken.region_code, chicken.subcategory, chicken.verdict) == ("652826", "调味品", Verdict.FAIL)
        (item,) = chicken.failed_items
        assert (item.item, item.measured, item.unit) == ("呈味核苷酸二钠", "0.8", "g/100g")
        assert (lard.region_code, lard.subcategory) == ("510117", "食用油、油脂及其制品")  # 成都市郫都\n区
        assert lard.sampling_level is SamplingLevel.NATIONAL

    def test_a_rejection_names_the_column_as_the_table_spells_it(self, tmp_path: Path) -> None:
        data = tmp_path / "a.csv"
        row = ",,腐竹,,某厂 ,某店 ,,,,,,,,合格,国内监督抽查(湖北市场监管局),不是日期,"
        data.write_text(f"{FOODMATE_HEADER}\r\n{row}\r\n", encoding="utf-8")
        mapping = tmp_path / "m.yaml"
        assert (
            CliRunner().invoke(app, ["import", str(data), "--suggest-mapping", "--mapping", str(mapping)]).exit_code
            == 0
        )
        (rejection,) = import_files([data], fmt=None, sink=None, mapping=mapping).rejections
        assert rejection.reason.startswith("发布日期: unreadable date")

    def test_the_suggestion_never_overwrites_a_mapping(self, tmp_path: Path) -> None:
        data = foodmate_csv(tmp_path / "a.csv")
        (tmp_path / "a.csv.mapping.yaml").write_text("checked: by hand\n", encoding="utf-8")
        out = CliRunner().invoke(app, ["import", str(data), "--suggest-mapping"])
        assert out.exit_code != 0
        assert (tmp_path / "a.csv.mapping.yaml").read_text(encoding="utf-8") == "checked: by hand\n"

    def test_a_csv_without_a_mapping_says_how_to_get_one(self, tmp_path: Path) -> None:
        with pytest.raises(ImportFormatError, match="--suggest-mapping"):
            import_files([foodmate_csv(tmp_path / "a.csv")], fmt=None, sink=None)

    def test_a_workbook_with_its_own_column_names_imports_through_a_mapping(self, tmp_path: Path) -> None:
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["品名", "门店", "省", "通报时间", "结果"])
        sheet.append(["鸡精", "开县汉丰镇某超市", "重庆", "2015-05-04", "合格"])
        book.save(tmp_path / "自编.xlsx")
        mapping = tmp_path / "m.yaml"
        mapping.write_text(
            "headers: {品名: product, 门店: sampled_unit, 省: province, 通报时间: notice_date,"
            " 结果: verdict}\noptions: {sampling_type: supervisory}\n",
            encoding="utf-8",
        )
        (row,) = [
            o
            for o in read_file(tmp_path / "自编.xlsx", "samr", mapping=mapping, samr=SamrOptions())
            if isinstance(o, ImportRow)
        ]
        assert (row.result.region_code, row.result.subcategory, row.result.verdict) == (
            "500154",
            "调味品",
            Verdict.PASS,
        )

    def test_the_commands_region_comes_before_the_mappings(self, tmp_path: Path) -> None:
        data = foodmate_csv(tmp_path / "a.csv")
        mapping = tmp_path / "m.yaml"
        mapping.write_text(
            "headers: {物料名称: product, 供应商: sampled_unit, 发布日期: notice_date, 判定: verdict,"
            " 检测项目: failed_items}\noptions: {region_code: '500000', sampling_type: evaluative}\n",
            encoding="utf-8",
        )
        by_mapping = [
            o.result for o in read_file(data, "csv", mapping=mapping, samr=SamrOptions()) if isinstance(o, ImportRow)
        ]
        assert {(r.region_code, r.sampling_type.value) for r in by_mapping} == {("500000", "evaluative")}
        by_command = [
            o.result
            for o in read_file(data, "csv", mapping=mapping, samr=SamrOptions(region_code="500151"))
            if isinstance(o, ImportRow)
        ]
        assert {r.region_code for r in by_command} == {"500151"}

    def test_an_unknown_field_in_a_mapping_is_named(self, tmp_path: Path) -> None:
        mapping = tmp_path / "m.yaml"
        mapping.write_text("headers: {物料名称: prodcut}\n", encoding="utf-8")
        with pytest.raises(ImportFormatError, match="prodcut"):
            list(read_file(foodmate_csv(tmp_path / "a.csv"), "csv", mapping=mapping, samr=SamrOptions()))

    def test_a_mapping_has_one_form(self, tmp_path: Path) -> None:
        mapping = tmp_path / "m.yaml"
        mapping.write_text("headers: {物料名称: product}\ncolumns: {product: 物料名称}\n", encoding="utf-8")
        with pytest.raises(ImportFormatError, match="one of them"):
            load_mapping(mapping)


class TestRealFoodmateCsv:
    def test_the_real_scrape_imports_whole_through_its_suggested_mapping(self, tmp_path: Path) -> None:
        source = require(FOODMATE)
        out = CliRunner().invoke(
            app, ["import", str(source), "--suggest-mapping", "--mapping", str(tmp_path / "m.yaml")]
        )
        assert out.exit_code == 0, out.output
        summary = import_files([source], fmt=None, sink=None, mapping=tmp_path / "m.yaml")
        assert (summary.rows_read, summary.valid, summary.rejected) == (2297, 2297, 0)
        assert summary.repeated == 51  # the README's exact duplicates: stored once
        assert sum(summary.unclassified.values()) == 0
        assert summary.placed_in_county > 1000


class TestEmit:
    def test_a_dry_run_emits_one_line_per_valid_row_with_where_it_was_read(self, tmp_path: Path) -> None:
        from qsmon.schema import parse_result

        data = foodmate_csv(tmp_path / "a.csv")
        with data.open("a", encoding="utf-8") as f:  # a fourth row, rejected: no date
            f.write(",,腐竹,,某厂 ,某店 ,,,,,,,,合格,国内监督抽查(湖北市场监管局),不是日期,\r\n")
        mapping = tmp_path / "m.yaml"
        assert (
            CliRunner().invoke(app, ["import", str(data), "--suggest-mapping", "--mapping", str(mapping)]).exit_code
            == 0
        )
        emit = tmp_path / "review.ndjson"
        out = CliRunner().invoke(
            app, ["import", str(data), "--mapping", str(mapping), "--dry-run", "--emit", str(emit), "--json"]
        )
        assert out.exit_code == 0, out.output
        lines = [json.loads(line) for line in emit.read_text(encoding="utf-8").splitlines()]
        assert [(line["file"], line["sheet"], line["row"]) for line in lines] == [
            (str(data), None, 2),
            (str(data), None, 3),
            (str(data), None, 4),
        ]
        events = [parse_result(json.dumps(line["event"]).encode()) for line in lines]
        assert [e.region_code for e in events] == ["500151", "652826", "510117"]
        assert json.loads(out.stdout[out.stdout.index("{") :])["rejected"] == 1

    def test_a_workbooks_rows_are_emitted_with_their_sheet(self, tmp_path: Path) -> None:
        from producers.importers.example import EXPECTED_VALID, build_samr_workbook

        emit = tmp_path / "review.ndjson"
        summary = import_files([build_samr_workbook(tmp_path / "公告.xlsx")], fmt=None, sink=None, emit_path=emit)
        lines = [json.loads(line) for line in emit.read_text(encoding="utf-8").splitlines()]
        assert len(lines) == summary.valid == EXPECTED_VALID
        assert all(line["sheet"] and line["row"] > 1 and line["event"]["sample_id"] for line in lines)
