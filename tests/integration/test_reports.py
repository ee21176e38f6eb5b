"""The monthly report from a database loaded with known results; every number checked independently."""

from __future__ import annotations

import csv
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import psycopg
import pytest

from indicators.labels import label
from indicators.stats import State
from qsmon.escaping import spreadsheet_text
from qsmon.plans import load_plan_text
from qsmon.schema import InspectionResult
from qsmon.settings import Settings
from reports.data import gather
from reports.run import write_report
from streams.records import SourceRecord, classify
from streams.store import ResultStore
from tests.factories import ALERT_PAYLOAD, alert_message, result

pytestmark = pytest.mark.integration

PLAN = load_plan_text("""\
id: report-test
title: 测试市质量强市建设实施方案
issuer: 测试市人民政府办公室
jurisdiction: {name: 荆州市, region_code: "421000"}
period: {start: 2025-01-01, end: 2026-12-31}
indicators:
  - id: vegetables-pass
    name: 蔬菜例行监测合格率
    source: 蔬菜例行监测合格率保持在98%以上
    measure: pass_rate
    filter: {categories: [agricultural], sampling_types: [routine_monitoring], subcategories: [蔬菜]}
    target: {op: ">=", value: 98}
    windows: [month_to_date]
    min_samples: 20
  - id: acceptance
    name: 工程竣工验收合格率
    source: 竣工验收合格率100%
    measure: pass_rate
    filter: {categories: [engineering], sampling_types: [acceptance]}
    target: {op: "==", value: 100}
    windows: [month_to_date]
    min_samples: 1
  - id: satisfaction
    name: 公共服务满意度
    source: 公共服务满意度达到80分以上
    measure: mean_score
    filter: {categories: [public_service], sampling_types: [survey]}
    target: {op: ">=", value: 80}
    windows: [month_to_date]
    min_samples: 3
""")


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def veg(prefix: str, n: int, verdict: str, when: datetime, region: str) -> list[InspectionResult]:
    return [
        result(
            f"{prefix}-{i}",
            verdict=verdict,
            at=when + timedelta(minutes=i),
            category="agricultural",
            sampling_type="routine_monitoring",
            region=region,
            subcategory="蔬菜",
            product="莲藕",
            manufacturer="某合作社",
            sampled_unit="某农贸市场",
            lab="某检验所",
        )
        for i in range(n)
    ]


class Loader:
    def __init__(self, settings: Settings) -> None:
        self.store = ResultStore(settings.dsn, group=settings.worker_group, topic=settings.results_topic)
        self.offset = 0

    def send(self, results: list[InspectionResult]) -> None:
        records = [SourceRecord(0, self.offset + i, r.key, r.to_json()) for i, r in enumerate(results)]
        self.offset += len(records)
        self.store.write(classify(records, datetime(2027, 1, 1, tzinfo=UTC))[0], records)


@pytest.fixture
def loaded(settings: Settings, db: psycopg.Connection) -> Settings:
    load = Loader(settings)
    march = at(2026, 3, 10)
    load.send(veg("HH", 95, "pass", march, "421083") + veg("HHF", 5, "fail", march, "421083"))  # 洪湖 95/100
    load.send(veg("SS", 200, "pass", march, "421002") + veg("SSF", 2, "fail", march, "421002"))  # 沙市 200/202
    load.send(veg("FEB", 100, "pass", at(2026, 2, 10), "421083"))  # Feb 100/100
    load.send(veg("Y25", 50, "pass", at(2025, 3, 10), "421083") + veg("Y25F", 1, "fail", at(2025, 3, 10), "421083"))
    load.send(
        [
            result(
                f"ENG-{i}",
                category="engineering",
                sampling_type="acceptance",
                subcategory="房屋建筑工程",
                at=march,
                verdict="fail" if i == 0 else "pass",
            )
            for i in range(11)
        ]
    )  # 10/11 accepted
    load.send(
        [
            result(
                f"SV-{i}", category="public_service", sampling_type="survey", subcategory="公共服务", at=march, score=s
            )
            for i, s in enumerate((85.0, 75.0, 90.0))
        ]
    )
    # A late correction: a re-inspection (复检) overturns one of 洪湖's March failures weeks later.
    load.send(
        [
            result(
                "HHF-0",
                revision=2,
                verdict="pass",
                at=march,
                category="agricultural",
                sampling_type="routine_monitoring",
                region="421083",
                subcategory="蔬菜",
            )
        ]
    )
    db.execute(
        "INSERT INTO alerts (plan_id, indicator_id, region_code, subcategory, window_name, status, severity,"
        " opened_at) VALUES ('report-test', 'vegetables-pass', '421083', '', 'month_to_date', 'firing',"
        " 'critical', '2026-03-11T09:00:00+08:00')"
    )
    load.store.close()
    return settings


def shown(hits: int, tested: int) -> float:
    """A rate as the workbook stores it: the percent rounded half up to two decimals, as a fraction."""
    return float((Decimal(100 * hits) / tested).quantize(Decimal("0.01"), ROUND_HALF_UP)) / 100


def sheet_rows(path: Path, name: str) -> list[tuple[object, ...]]:
    workbook = openpyxl.load_workbook(path, data_only=True)
    return list(workbook[name].iter_rows(min_row=4, values_only=True))


class TestMonthlyWorkbook:
    def test_every_sheet_shows_the_independently_computed_numbers(self, loaded: Settings, tmp_path: Path) -> None:
        xlsx, published = write_report(loaded, PLAN, 2026, 3, tmp_path, ["xlsx"])
        assert published.name.endswith("不合格产品信息.xlsx")  # the failures in the published layout, beside it
        # March vegetables after the correction: 洪湖 96/100, 沙市 200/202 → 296/302. The workbook holds each rate
        # as shown (two decimals of a percent), and changes as differences of the shown rates.
        march, february, last_year = shown(296, 302), shown(100, 100), shown(50, 51)
        ytd = shown(296 + 100, 302 + 100)
        rows = {r[0]: r for r in sheet_rows(xlsx, "指标完成情况")}
        veg_row = rows["蔬菜例行监测合格率"]
        assert veg_row[2] == pytest.approx(march)
        assert veg_row[3] == pytest.approx(ytd)
        assert veg_row[4] == "≥ 98.00%"
        assert veg_row[5] == "达标"
        assert veg_row[6:8] == (302, 6)
        assert veg_row[10] == pytest.approx((march - february) * 100)
        assert veg_row[11] == pytest.approx((march - last_year) * 100)
        acceptance = rows["工程竣工验收合格率"]
        assert acceptance[2] == pytest.approx(shown(10, 11))
        assert acceptance[5] == "严重"  # == 100 %: one failure misses it
        assert acceptance[10] is None  # no samples last month: no change to show
        survey = rows["公共服务满意度"]
        assert survey[2] == pytest.approx(250 / 3)
        assert survey[5] == "达标"

        categories = {(r[0], r[1]): r for r in sheet_rows(xlsx, "分类")}
        assert categories[("农产品", "蔬菜")][2:5] == (302, 296, 6)
        assert categories[("工程", "房屋建筑工程")][2:5] == (11, 10, 1)
        assert ("公共服务", "公共服务") not in categories  # surveys are not inspections

        regions = sheet_rows(xlsx, "分地区")
        # Ranked by shortfall: 荆州区 acceptance 100 − 90.91, then 洪湖市 vegetables 98 − 96; 沙市区 meets its target.
        assert [(r[1], r[2]) for r in regions] == [
            ("荆州区", "工程竣工验收合格率"),
            ("洪湖市", "蔬菜例行监测合格率"),
            ("沙市区", "蔬菜例行监测合格率"),
        ]
        honghu = next(r for r in regions if r[1] == "洪湖市" and r[2] == "蔬菜例行监测合格率")
        assert honghu[3:6] == (100, 4, pytest.approx(0.96))
        assert honghu[7] == pytest.approx(98 - 96)

        trend = {r[0]: r for r in sheet_rows(xlsx, "趋势")}
        months = [f"{y}-{m:02d}" for y, m in [(2025, m) for m in range(3, 13)] + [(2026, m) for m in (1, 2, 3)]]
        series = dict(zip(months, trend["蔬菜例行监测合格率"][2:], strict=True))
        assert series["2025-03"] == pytest.approx(last_year)
        assert series["2026-02"] == pytest.approx(february)
        assert series["2026-03"] == pytest.approx(march)
        assert series["2026-01"] is None  # a month without samples is a gap, not zero
        assert series["2025-07"] is None

        failures = sheet_rows(xlsx, "不合格明细")
        assert len(failures) == 4 + 2 + 1  # the corrected sample is no longer a failure
        assert "HHF-0" not in {r[0] for r in failures}
        assert all("毒死蜱" in str(r[10]) for r in failures if str(r[0]).startswith(("HHF", "SSF")))
        assert {r[4] for r in failures} == {"例行监测", "竣工验收"}  # each failure says its sampling type

        alerts = sheet_rows(xlsx, "告警")
        assert [(a[1], a[2], a[7]) for a in alerts] == [("蔬菜例行监测合格率", "洪湖市", "未解决")]

    def test_a_month_without_samples_reports_no_values_not_zeros(
        self, loaded: Settings, db: psycopg.Connection
    ) -> None:
        report = gather(db, PLAN, 2026, 1, timezone=loaded.timezone)
        assert all(row.month.value is None and row.state is State.INSUFFICIENT_DATA for row in report.indicators)
        assert report.failures == []
        assert report.regions == []

    def test_rerunning_a_month_overwrites_it_identically(self, loaded: Settings, tmp_path: Path) -> None:
        first = {p.name: p.read_bytes() for p in write_report(loaded, PLAN, 2026, 3, tmp_path / "a")}
        second = {p.name: p.read_bytes() for p in write_report(loaded, PLAN, 2026, 3, tmp_path / "a")}
        assert first == second
        assert len(first) == 23  # two workbooks (report, 不合格产品信息), two PDFs (月报, 信息公告), 19 CSV tables

    def test_csv_files_open_in_excel_with_chinese(self, loaded: Settings, tmp_path: Path) -> None:
        files = write_report(loaded, PLAN, 2026, 3, tmp_path, ["csv"])
        indicators = next(p for p in files if p.name.endswith("指标完成情况.csv"))
        raw = indicators.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
        assert "蔬菜例行监测合格率" in raw.decode("utf-8-sig")


class TestOneVocabulary:
    def test_workbook_csv_pdf_and_notifications_use_the_same_words(self, loaded: Settings, tmp_path: Path) -> None:
        files = write_report(loaded, PLAN, 2026, 3, tmp_path, ["xlsx", "csv", "pdf"])
        xlsx = next(p for p in files if p.suffix == ".xlsx")
        for name in ("指标完成情况", "分类", "告警", "不合格明细"):
            with next(p for p in files if p.name.endswith(f"-{name}.csv")).open(encoding="utf-8-sig") as f:
                csv_rows = list(csv.reader(f))[1:]
            sheet = sheet_rows(xlsx, name)
            assert len(csv_rows) == len(sheet) > 0, name
            for csv_row, sheet_row in zip(csv_rows, sheet, strict=True):
                texts = [(c, s) for c, s in zip(csv_row, sheet_row, strict=True) if isinstance(s, str)]
                # the same words; CSV quotes a text Excel would run as a formula (= 100%) with an apostrophe
                assert all(c == spreadsheet_text(s) for c, s in texts), (name, texts)
        [alert] = sheet_rows(xlsx, "告警")
        assert alert[4] == label(State.CRITICAL) == "严重"  # the word a notification's title uses
        assert alert_message(ALERT_PAYLOAD | {"severity": "critical"}).title.startswith("【告警·严重】")
        pdf = next(p for p in files if p.suffix == ".pdf")
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert label(State.CRITICAL) in text  # the state column, same words
        assert label(State.OK) in text


class TestAnnouncement:
    def test_a_report_is_sent_to_a_channel_with_its_summary_and_files(self, loaded: Settings, tmp_path: Path) -> None:
        from notify.testing import WebhookReceiver

        receiver = WebhookReceiver()
        channels = tmp_path / "channels.yaml"
        channels.write_text(f"channels: [{{name: meeting, type: webhook, url: '{receiver.url}'}}]\n", encoding="utf-8")
        try:
            files = write_report(
                loaded.model_copy(update={"channels_file": channels}),
                PLAN,
                2026,
                3,
                tmp_path / "out",
                ["xlsx"],
                notify=["meeting"],
            )
        finally:
            receiver.stop()
        [message] = receiver.received
        assert message["kind"] == "monthly_report"
        assert message["title"] == "测试市质量强市建设实施方案 2026年3月质量指标月报"
        assert "工程竣工验收合格率为90.91%" in message["summary"]
        assert message["files"] == [str(f) for f in files]


class TestMonthlyPdf:
    def test_the_pdf_renders_with_chinese_text_and_rates(self, loaded: Settings, tmp_path: Path) -> None:
        pdf, _notice = write_report(loaded, PLAN, 2026, 3, tmp_path, ["pdf"])
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        for expected in (
            "测试市质量强市建设实施方案",
            "蔬菜例行监测合格率",
            "工程竣工验收合格率",
            "公共服务满意度",
            "98.01%",
            "90.91%",
            "83.3",
            "未达到目标",
        ):
            assert expected in text, expected
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert "WenQuanYiMicroHei" in fonts  # Chinese set in a CJK font: no empty boxes
        subprocess.run(
            ["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, capture_output=True
        )
        pages = sorted(tmp_path.glob("page-*.png"))
        assert len(pages) >= 2
        assert all(p.stat().st_size > 5000 for p in pages)  # rendered content, not blank pages


class TestPlanStanding:
    def test_a_report_of_an_extended_plan_says_so(self, loaded: Settings, db: psycopg.Connection) -> None:
        from qsmon.plans.model import Period
        from reports.summary import summary

        extended = PLAN.model_copy(
            update={
                "period": Period(start=date(2021, 1, 1), end=date(2025, 12, 31)),
                "in_force_until": date(2027, 12, 31),
            }
        )
        text = summary(gather(db, extended, 2026, 3, timezone=loaded.timezone))
        assert "规划期已于2025-12-31结束，延续执行至2027-12-31" in text


class TestSchedule:
    def test_a_missed_monthly_report_is_caught_up_and_not_written_twice(self, loaded: Settings, tmp_path: Path) -> None:
        import threading

        from qsmon import clock
        from reports.run import HEARTBEAT_FILE, previous_month, report_stem, run_schedule

        out = tmp_path / "reports"
        stop = threading.Event()
        year, month = previous_month(clock.today(loaded.timezone))  # the host was down on the 1st: today is not
        schedule = threading.Thread(target=run_schedule, args=(loaded, [PLAN], out, stop, ("xlsx", "csv")), daemon=True)
        schedule.start()
        try:
            xlsx = out / f"{report_stem(PLAN, year, month)}.xlsx"
            deadline = time.monotonic() + 60
            while not xlsx.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert xlsx.exists()
            assert (out / HEARTBEAT_FILE).exists()
        finally:
            stop.set()
            schedule.join(timeout=30)
        written_at = xlsx.stat().st_mtime
        second = threading.Thread(
            target=run_schedule, args=(loaded, [PLAN], out, stop := threading.Event(), ("xlsx", "csv")), daemon=True
        )
        second.start()  # a restart: the report is there, so it is not written again
        time.sleep(2)
        stop.set()
        second.join(timeout=30)
        assert xlsx.stat().st_mtime == written_at


class TestCompleteness:
    def test_a_month_whose_data_stops_early_says_so_first(self, loaded: Settings, db: psycopg.Connection) -> None:
        from reports.summary import summary

        # The fixture's March results all fall on the 10th, after months of 100 (Feb) and 51 (March 2025).
        report = gather(db, PLAN, 2026, 3, timezone=loaded.timezone)
        assert report.completeness is not None
        assert (report.completeness.reasons, report.completeness.last_day) == (("ends_early",), date(2026, 3, 10))
        assert summary(report).startswith("数据完整性：2026年3月数据提前截止，数据截至3月10日")
        assert gather(db, PLAN, 2025, 3, timezone=loaded.timezone).completeness.reasons == ()  # type: ignore[union-attr]


class TestRegionReports:
    def test_a_province_without_a_plan_gets_a_monthly_report_of_its_food_sampling(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        from cli.report import region_plan

        load = Loader(settings)
        sept = at(2020, 9, 1)
        food = [
            result(
                f"ZJ-{d}-{i}",
                at=sept + timedelta(days=d),
                region=region,
                subcategory="调味品",
                sampling_type="supervisory",
                verdict="fail" if i == 0 and d == 3 else "pass",
                product="鸡精",
                manufacturer="某厂",
                sampled_unit="某店",
                lab="某所",
            )
            for d in range(29)
            for i, region in enumerate(("330106", "330282"))
        ]
        load.send(food)
        load.store.close()
        plan = region_plan("330000", 2020)
        files = write_report(settings, plan, 2020, 9, tmp_path, ("xlsx", "pdf"))
        assert {p.suffix for p in files} == {".xlsx", ".pdf"}
        with psycopg.connect(settings.dsn) as conn:
            report = gather(conn, plan, 2020, 9, timezone=settings.timezone)
        (row,) = report.indicators
        assert (row.month.samples, row.month.failed) == (58, 1)
        assert {r.region_code for r in report.regions} == {"330100", "330200"}  # the province's cities
        assert [(c.subcategory, c.tested) for c in report.categories] == [("调味品", 58)]
        assert "参考值" in row.indicator.source

    def test_the_nation_is_a_region_too(self) -> None:
        from cli.report import region_plan

        plan = region_plan("000000", 2020)
        assert (plan.jurisdiction.name, plan.jurisdiction.region_code) == ("全国", None)
