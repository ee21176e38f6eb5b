"""Spreadsheet, CSV and NDJSON imports into the real Kafka: exact counts, named rejects, stable keys."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer

from producers.importers import import_files
from producers.importers.base import ImportRow
from producers.importers.example import EXPECTED_REJECTED, EXPECTED_VALID, build_samr_workbook
from producers.importers.samr import SamrOptions
from producers.kafka_sink import ResultSink
from qsmon.schema import parse_result
from qsmon.settings import Settings
from qsmon.topics import ensure_topics
from streams.rebuild import differences

pytestmark = pytest.mark.integration


def consume_keys(settings: Settings, expected: int) -> list[bytes]:
    consumer = KafkaConsumer(
        settings.results_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
        group_id=None,
    )
    keys = []
    for record in consumer:
        parse_result(record.value)  # every record on the topic is a valid event
        keys.append(record.key)
        if len(keys) >= expected:
            break
    consumer.close()
    return keys


class TestSamrImport:
    def test_the_workbook_imports_with_exact_counts_and_named_rejects(self, settings: Settings, tmp_path: Path) -> None:
        ensure_topics(settings)
        workbook = build_samr_workbook(tmp_path / "公告.xlsx")
        rejects = tmp_path / "rejects.csv"
        with ResultSink(settings) as sink:
            summary = import_files([workbook], fmt="samr", sink=sink, rejects_path=rejects, keep_ids=True)
        assert summary.as_dict() == {
            "rows_read": EXPECTED_VALID + len(EXPECTED_REJECTED),
            "valid": EXPECTED_VALID,
            "rejected": len(EXPECTED_REJECTED),
            "sent": EXPECTED_VALID,
            "dated_by_announcement": EXPECTED_VALID,  # the example has no 抽样日期
            "unclassified_rows": 0,
            "repeated": 0,
            "sheet_notes": 0,
            "placed_in_county": 7,
            "placed_by_former_name": 0,
        }
        named = {(r.sheet, r.row): r.reason for r in summary.rejections}
        assert set(named) == set(EXPECTED_REJECTED)
        for where, word in EXPECTED_REJECTED.items():
            assert word in named[where], named[where]
        with rejects.open(encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
        assert sorted((r["sheet"], int(r["row"])) for r in rows) == sorted(EXPECTED_REJECTED)
        keys = consume_keys(settings, EXPECTED_VALID)
        assert sorted(k.decode() for k in keys) == sorted(summary.sample_ids)

    def test_merged_cells_dates_and_failed_items_are_read(self, tmp_path: Path) -> None:
        workbook = build_samr_workbook(tmp_path / "公告.xlsx")
        from producers.importers.samr import read_samr

        rows = [r for r in read_samr(workbook, SamrOptions()) if hasattr(r, "result")]
        by_product = {r.result.product: r.result for r in rows}
        assert by_product["挂面"].subcategory == "粮食加工品"  # filled from the merged J5:J7
        assert by_product["小麦粉"].subcategory == "粮食加工品"
        assert [str(by_product[p].sampled_at.date()) for p in ("大米", "挂面", "小麦粉", "莲藕粉", "白酒")] == [
            "2026-03-05",
            "2026-03-06",
            "2026-03-07",
            "2026-03-08",
            "2026-03-09",
        ]
        assert by_product["大米"].sampling_type.value == "evaluative"
        assert by_product["白酒"].region_code == "421087"  # 松滋市某商店: the county its name names, in 湖北
        assert by_product["白酒"].manufacturer_region_code == "421087"  # 湖北省松滋市
        cabbage = by_product["普通白菜"]
        assert cabbage.verdict.value == "fail"
        assert [(i.item, i.measured, i.limit, i.unit) for i in cabbage.failed_items] == [
            ("毒死蜱", "0.12", "≤0.02mg/kg", "mg/kg")
        ]
        assert [i.item for i in by_product["面包"].failed_items] == ["大肠菌群", "菌落总数"]

    def test_reimporting_the_same_file_gives_the_same_keys(self, tmp_path: Path) -> None:
        workbook = build_samr_workbook(tmp_path / "公告.xlsx")
        first = import_files([workbook], fmt="samr", sink=None, keep_ids=True)
        again = import_files([workbook], fmt="samr", sink=None, keep_ids=True)
        assert first.sample_ids == again.sample_ids
        assert len(set(first.sample_ids)) == EXPECTED_VALID

    def test_a_region_option_overrides_the_province(self, tmp_path: Path) -> None:
        workbook = build_samr_workbook(tmp_path / "公告.xlsx")
        summary = import_files([workbook], fmt="samr", sink=None, samr=SamrOptions(region_code="421000"))
        assert summary.valid == EXPECTED_VALID + 1  # the 火星 row is now placed in 荆州市


class TestCsvAndNdjson:
    def test_a_mapped_csv_imports_and_names_its_bad_row(self, settings: Settings, tmp_path: Path) -> None:
        ensure_topics(settings)
        data = tmp_path / "foodmate.csv"
        data.write_text(
            "物料名称,产品分类,生产商,供应商,判定,发布日期,检测项目,检测结果,限量值\n"
            "腐竹,豆制品,某厂 ,某店 ,合格,2022-03-01,,,\n"
            '豆干,豆制品,某厂 ,某店 ,不合格,2022/3/2,苯甲酸,"0.161g/kg",≤0.02\n'
            "粉丝,淀粉制品,某厂 ,某店 ,合格,不是日期,,,\n",
            encoding="utf-8",
        )
        mapping = tmp_path / "mapping.yaml"
        mapping.write_text(
            "columns: {product: 物料名称, subcategory: 产品分类, manufacturer: 生产商, sampled_unit: 供应商,\n"
            "          verdict: 判定, sampled_at: 发布日期}\n"
            "constants: {category: food, sampling_type: supervisory, region_code: '420000'}\n"
            "values: {verdict: {合格: pass, 不合格: fail}}\n"
            "failed_items: {item: 检测项目, measured: 检测结果, limit: 限量值}\n",
            encoding="utf-8",
        )
        with ResultSink(settings) as sink:
            summary = import_files([data], fmt="csv", sink=sink, mapping=mapping, keep_ids=True)
        assert summary.as_dict() == {
            "rows_read": 3,
            "valid": 2,
            "rejected": 1,
            "sent": 2,
            "dated_by_announcement": 0,
            "unclassified_rows": 0,
            "repeated": 0,
            "sheet_notes": 0,
            "placed_in_county": 0,
            "placed_by_former_name": 0,
        }
        assert (summary.rejections[0].row, "date" in summary.rejections[0].reason) == (4, True)
        keys = consume_keys(settings, 2)
        assert sorted(k.decode() for k in keys) == sorted(summary.sample_ids)

    def test_ndjson_lines_are_taken_as_events(self, tmp_path: Path) -> None:
        from tests.factories import result

        data = tmp_path / "events.ndjson"
        data.write_bytes(result("N-1").to_json() + b"\n\n{broken\n" + result("N-2").to_json() + b"\n")
        summary = import_files([data], fmt="ndjson", sink=None)
        assert summary.as_dict() == {
            "rows_read": 3,
            "valid": 2,
            "rejected": 1,
            "sent": 0,
            "dated_by_announcement": 0,
            "unclassified_rows": 0,
            "repeated": 0,
            "sheet_notes": 0,
            "placed_in_county": 2,
            "placed_by_former_name": 0,
        }
        assert summary.rejections[0].row == 3


class TestRealAnnouncements:
    """Real scraped announcements (../shared/data/real) laid out as SAMR workbooks: wrapped cells, several date
    styles, `/` for none, no 抽样编号, online shops; no real row may be rejected (issue #16)."""

    def test_every_row_of_a_real_announcement_imports_with_its_county(self, tmp_path: Path) -> None:
        from collections import Counter

        from producers.importers.samr import read_samr
        from tests.real_data import foodmate_workbook

        workbook, passed, failed = foodmate_workbook(tmp_path / "公告.xlsx")
        rows = list(read_samr(workbook, SamrOptions()))
        rejected = [r for r in rows if not hasattr(r, "result")]
        assert rejected == []
        results = [r.result for r in rows if hasattr(r, "result")]
        assert (
            Counter(r.verdict.value for r in results) == {"pass": passed, "fail": failed} == {"pass": 2242, "fail": 55}
        )  # as the source counts them (its README)
        by_unit = {r.sampled_unit: r.region_code for r in results}
        assert by_unit["漳州市龙文区董世川豆制品店"] == "350603"  # the county its name starts with
        assert all(r.manufacturer is None for r in results if r.product == "三角（豆腐）")  # `/` is none
        counties = sum(1 for r in results if not r.region_code.endswith("00"))
        assert counties > 1000  # most units name their county; the rest keep the province column's province
        # The announcement has no 抽样日期: every row is dated by its 公告日期, and the import says so.
        assert all(r.dated_by_announcement for r in rows if isinstance(r, ImportRow))
        assert all(r.announcement_date == r.sampled_at.date() for r in results)
        # Its 分类 (foodmate's 豆及豆制品-->豆类 …) maps onto SAMR's 大类; beans are 食用农产品, not 豆制品.
        assert Counter(r.subcategory for r in results) == {"淀粉及淀粉制品": 1110, "豆制品": 1091, "食用农产品": 96}
        assert [r for r in rows if isinstance(r, ImportRow) and r.unclassified] == []
        # 发布单位 国内监督抽查(贵州市场监管局) is a province's bureau; two rows are 国家市场监管总局's.
        assert Counter(r.sampling_level.value for r in results if r.sampling_level) == {
            "provincial": 2295,
            "national": 2,
        }

    def test_addresses_give_where_it_was_sampled_and_where_it_was_made(self, tmp_path: Path) -> None:
        from producers.importers.samr import read_samr
        from tests.real_data import cqn_food_rows, cqn_workbook

        workbook, count = cqn_workbook(tmp_path / "不合格.xlsx")
        rows = list(read_samr(workbook, SamrOptions()))
        assert [r for r in rows if not hasattr(r, "result")] == []
        results = [r.result for r in rows if hasattr(r, "result")]
        assert len(results) == count == len(cqn_food_rows())
        first = results[1]  # 北海润福商业有限公司, 广西北海市…; made by a company in 柳州市柳南区
        assert (first.region_code, first.manufacturer_region_code) == ("450500", "450204")
        online = [r for r in results if r.sampled_unit and "旗舰店" in r.sampled_unit]
        assert online  # online shops have no address: the manufacturer's place stands in
        assert all(r.region_code == r.manufacturer_region_code for r in online if r.manufacturer_region_code)


def announcement(path: Path, title: str, rows: list[list[object]]) -> Path:
    """A small announcement workbook with 抽样编号, as the later 复检 and 异议 announcements are published."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.create_sheet(title, 0)
    sheet.append(
        [
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
    )
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


class TestLaterAnnouncements:
    def test_a_retest_replaces_the_first_result_and_a_void_leaves_the_denominator(
        self, settings: Settings, db: psycopg.Connection, tmp_path: Path
    ) -> None:
        from producers.importers.samr import read_samr
        from qsmon.vocab import RetestStatus, SamplingLevel
        from tests.workers import DirectWriter

        first = announcement(
            tmp_path / "第1期.xlsx",
            "食品安全监督抽检不合格产品信息",
            [
                [
                    1,
                    "DC26420000001",
                    "某厂",
                    "洪湖市某超市",
                    "湖北",
                    "腐竹",
                    "苯甲酸║0.5g/kg║不得使用",
                    "2026-03-02",
                    "湖北省市场监督管理局",
                    None,
                ],
                [
                    2,
                    "DC26420000002",
                    "某厂",
                    "洪湖市某超市",
                    "湖北",
                    "豆干",
                    "苯甲酸║0.4g/kg║不得使用",
                    "2026-03-02",
                    "湖北省市场监督管理局",
                    None,
                ],
            ],
        )
        later = announcement(
            tmp_path / "第2期.xlsx",
            "复检结果(合格)",
            [
                [
                    1,
                    "DC26420000001",
                    "某厂",
                    "洪湖市某超市",
                    "湖北",
                    "腐竹",
                    None,
                    "2026-04-01",
                    "湖北省市场监督管理局",
                    "复检合格",
                ]
            ],
        )
        objection = announcement(
            tmp_path / "第3期.xlsx",
            "食品安全监督抽检不合格产品信息",
            [
                [
                    1,
                    "DC26420000002",
                    "某厂",
                    "洪湖市某超市",
                    "湖北",
                    "豆干",
                    "苯甲酸║0.4g/kg║不得使用",
                    "2026-04-08",
                    "湖北省市场监督管理局",
                    "异议成立,不予判定",
                ]
            ],
        )
        events = [
            r.result
            for path in (first, later, objection)
            for r in read_samr(path, SamrOptions())
            if hasattr(r, "result")
        ]
        assert [(e.sample_id, e.revision, e.verdict.value) for e in events] == [
            ("SAMR-DC26420000001", 1, "fail"),
            ("SAMR-DC26420000002", 1, "fail"),
            ("SAMR-DC26420000001", 2, "pass"),
            ("SAMR-DC26420000002", 2, "void"),
        ]
        assert events[2].retest_status is RetestStatus.OVERTURNED
        assert {e.sampling_level for e in events} == {SamplingLevel.PROVINCIAL}
        writer = DirectWriter(settings)
        try:
            writer.store_results(events[:2])
            assert db.execute("SELECT sum(tested), sum(failed) FROM rollup_daily").fetchone() == (2, 2)
            writer.store_results(events[2:])
        finally:
            writer.close()
        # The re-test replaced the failure; the void sample left the denominator (and both cases closed).
        assert db.execute("SELECT sum(tested), sum(passed), sum(failed) FROM rollup_daily").fetchone() == (1, 1, 0)
        assert db.execute("SELECT count(*) FROM failure_current").fetchone() == (0,)
        assert db.execute("SELECT status FROM cases ORDER BY sample_id").fetchall() == [
            ("overturned",),
            ("overturned",),
        ]
        assert differences(db) == []
