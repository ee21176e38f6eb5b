"""One number everywhere (issue #30): one month with every kind of result — a redelivery, a 复检 that overturns a
failure and one that upholds it, an 异议成立 void, risk-monitoring problem samples, food supervisory results beside
the evaluative ones, sampling levels, and products counted where they were made — counted by hand, then read by
the alert engine, the read API, the dashboards' panels, the monthly report (xlsx, CSV, PDF text) and the bulletin.
Every reader gives the same tested / failed / rate for the same indicator, region and month; a reader that forgets
one rule (void) is caught by the same check."""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import psycopg
import pytest

from alerts.engine import AlertEngine
from alerts.service import sync_reference_data
from dashboards.macros import expand
from dashboards.queries import OVERVIEW_TILES, REGIONS
from notify.routing import ChannelsConfig
from qsmon.plans import presets
from qsmon.settings import Settings
from qsmon.storage import connect
from qsmon.tokens import Scope, create_token
from reports.data import gather
from reports.run import write_report
from tests.factories import result
from tests.integration.test_read_api import serving
from tests.workers import DirectWriter, reader_dsn

pytestmark = pytest.mark.integration

ZONE = ZoneInfo("Asia/Shanghai")
MONTH = (2026, 3)
FIRST, LAST = date(2026, 3, 1), date(2026, 3, 31)
NOW = datetime(2026, 3, 31, 20, 0, tzinfo=ZONE)  # the engine's clock: month_to_date is March
SAMPLED = datetime(2026, 3, 12, 10, 0, tzinfo=ZONE)
FEBRUARY = datetime(2026, 2, 12, 10, 0, tzinfo=ZONE)
SHASHI, JINGZHOU, HONGHU, WUHAN = "421002", "421003", "421083", "420102"

PLAN_YAML = """\
id: one-number
title: 一个数测试规划
issuer: 测试
jurisdiction: {name: 荆州市, region_code: "421000"}
period: {start: 2024-01-01, end: 2099-12-31}
indicators:
  - id: food-evaluative
    name: 食品安全评价性抽检合格率
    source: 食品安全评价性抽检合格率达到98.5%
    measure: pass_rate
    filter: {categories: [food], sampling_types: [evaluative]}
    target: {op: ">=", value: 98.5}
    windows: [month_to_date]
    min_samples: 5
  - id: made-here
    name: 制造业产品质量合格率
    source: 制造业产品质量合格率稳定在95%以上
    measure: pass_rate
    filter: {categories: [manufactured]}
    target: {op: ">=", value: 95}
    windows: [month_to_date]
    min_samples: 5
    place: manufacturer
  - id: provincial
    name: 省级监督抽查合格率
    source: 省级监督抽查合格率达到95%
    measure: pass_rate
    filter: {categories: [manufactured], sampling_levels: [provincial]}
    target: {op: ">=", value: 95}
    windows: [month_to_date]
    min_samples: 5
"""


def _batch(prefix: str, passed: int, failed: int, **fields: Any) -> list[Any]:
    fields.setdefault("at", SAMPLED)
    return [result(f"{prefix}-{i}", verdict="fail" if i < failed else "pass", **fields) for i in range(passed + failed)]


def _months_results() -> tuple[list[Any], list[Any]]:
    """(first delivery, later revisions) of the month, and February's for 环比."""
    food = {"category": "food", "subcategory": "粮食加工品", "product": "小麦粉"}
    made = {"category": "manufactured", "sampling_type": "supervisory", "subcategory": "电线电缆", "product": "电线"}
    first = [
        *_batch("FA", 40, 3, region=SHASHI, **food),  # 沙市: 43 evaluative, 3 failed
        *_batch("FB", 30, 2, region=JINGZHOU, **food),  # 荆州区: 32, 2 failed (one overturned below)
        *_batch("FC", 20, 1, region=HONGHU, **food),  # 洪湖: 21, 1 failed (void below)
        *_batch("FS", 15, 2, region=SHASHI, sampling_type="supervisory", **food),  # 监督抽检 beside them
        *_batch("FR", 6, 4, region=SHASHI, sampling_type="risk_monitoring", **food),  # problem samples
        *_batch("M1", 18, 2, region=SHASHI, manufacturer_region_code=SHASHI, sampling_level="provincial", **made),
        *_batch("M2", 9, 1, region=SHASHI, manufacturer_region_code=WUHAN, sampling_level="national", **made),
        *_batch("M3", 10, 0, region=WUHAN, manufacturer_region_code=JINGZHOU, sampling_level="provincial", **made),
        *_batch("FEB", 49, 1, region=SHASHI, at=FEBRUARY, **food),  # February, for 环比
    ]
    later = [
        result("FB-0", revision=2, verdict="pass", region=JINGZHOU, at=SAMPLED, retest_status="overturned", **food),
        result("FB-1", revision=2, verdict="fail", region=JINGZHOU, at=SAMPLED, retest_status="upheld", **food),
        result("FC-0", revision=2, verdict="void", region=HONGHU, at=SAMPLED, **food),
    ]
    return first, later


# Counted by hand: (tested, failed) per indicator and region for March.
TRUTH: dict[tuple[str, str], tuple[int, int]] = {
    ("food-evaluative", "421000"): (43 + 32 + 20, 3 + 1 + 0),
    ("food-evaluative", SHASHI): (43, 3),
    ("food-evaluative", JINGZHOU): (32, 1),
    ("food-evaluative", HONGHU): (20, 0),
    ("made-here", "421000"): (20 + 10, 2),
    ("made-here", SHASHI): (20, 2),
    ("made-here", JINGZHOU): (10, 0),
    ("provincial", "421000"): (20, 2),
    ("provincial", SHASHI): (20, 2),
}


def shown_rate(tested: int, failed: int) -> Decimal:
    """The pass rate as printed, from the hand count (exact decimal arithmetic, halves up)."""
    return (Decimal(100 * (tested - failed)) / tested).quantize(Decimal("0.01"), ROUND_HALF_UP)


def as_shown(value: object) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal("0.01"), ROUND_HALF_UP)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Figure:
    tested: int
    failed: int | None  # None where the reader shows no failures
    rate: Decimal


Readings = dict[str, dict[tuple[str, str], Figure]]  # reader -> (indicator, region) -> figure


def disagreements(readings: Readings) -> list[str]:
    """Every reader's figure that is not the hand count: 'reader indicator region: got … want …'."""
    wrong = []
    for reader, figures in readings.items():
        for key, figure in figures.items():
            tested, failed = TRUTH[key]
            want = Figure(tested, failed if figure.failed is not None else None, shown_rate(tested, failed))
            if figure != want:
                wrong.append(f"{reader} {key[0]} {key[1]}: got {figure} want {want}")
    return wrong


@pytest.fixture(scope="module")
def world(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Any]]:
    from urllib.parse import quote

    from qsmon.storage import apply_migrations

    schema = f"one_{datetime.now(UTC):%H%M%S%f}"
    with connect(stack.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    plans_dir = tmp_path_factory.mktemp("plans")
    (plans_dir / "one-number.yaml").write_text(PLAN_YAML, encoding="utf-8")
    dsn = f"{stack.dsn}?options={quote(f'-c search_path={schema},public')}"
    settings = stack.model_copy(
        update={
            "database_url": type(stack.database_url)(dsn),
            "plans_dir": plans_dir,
            "reference_figures_file": None,
            "population_file": None,
        }
    )
    plan = presets(plans_dir)["one-number"]
    with connect(dsn) as conn:
        apply_migrations(conn)
        sync_reference_data(conn, [plan])
    first, later = _months_results()
    writer = DirectWriter(settings)
    try:
        records = writer.records(first)
        writer.write(records)
        writer.write(records)  # a redelivery: the same records again, counted once
        writer.store_results(later)
    finally:
        writer.close()
    engine = AlertEngine(settings, {plan.id: plan}, ChannelsConfig(), clock=lambda: NOW.astimezone(UTC))
    engine.sweep()
    engine.close()
    yield settings, plan
    with connect(stack.dsn, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _engine(db: psycopg.Connection) -> dict[tuple[str, str], Figure]:
    rows = db.execute(
        "SELECT indicator_id, region_code, tested, failed, value FROM indicator_evaluations"
        " WHERE plan_id = 'one-number' AND window_name = 'month_to_date' AND subcategory = ''"
        " AND first_day = %s",
        (FIRST,),
    ).fetchall()
    return {(i, r): Figure(int(t), int(f), as_shown(v)) for i, r, t, f, v in rows if (i, r) in TRUTH}


def _api(settings: Settings) -> Readings:
    with connect(settings.dsn) as conn:
        token = create_token(conn, "one-number", {Scope.READ}, 100_000)[1]
    headers = {"Authorization": f"Bearer {token}"}
    evaluations: dict[tuple[str, str], Figure] = {}
    series: dict[tuple[str, str], Figure] = {}
    with serving(settings) as base:
        answer = httpx.get(
            f"{base}/v1/evaluations",
            params={"plan": "one-number", "window": "month_to_date"},
            headers=headers,
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        for item in answer.json()["items"]:
            key = (item["indicator_id"], item["region_code"])
            if key in TRUTH and not item["subcategory"]:
                evaluations[key] = Figure(item["samples"], item["failed"], as_shown(item["value"]))
        for indicator, region in TRUTH:
            answer = httpx.get(
                f"{base}/v1/evaluations/series",
                headers=headers,
                timeout=30,
                params={
                    "plan": "one-number",
                    "indicator": indicator,
                    "region": region,
                    "from": FIRST.isoformat(),
                    "to": LAST.isoformat(),
                },
            )
            assert answer.status_code == 200, answer.text
            (month,) = answer.json()["items"]
            series[indicator, region] = Figure(month["samples"], month["failed"], as_shown(month["value"]))
        # Totals of a sampling type (no indicator): the food evaluative rate by county and for the city.
        rates: dict[tuple[str, str], Figure] = {}
        for group_by, region in (("region", "421000"), ("month", "421000")):
            answer = httpx.get(
                f"{base}/v1/rates",
                headers=headers,
                timeout=30,
                params={
                    "from": FIRST.isoformat(),
                    "to": LAST.isoformat(),
                    "group_by": group_by,
                    "region": region,
                    "category": "food",
                    "sampling_type": "evaluative",
                },
            )
            assert answer.status_code == 200, answer.text
            for item in answer.json()["items"]:
                code = item["key"] if group_by == "region" else "421000"
                rates["food-evaluative", code] = Figure(item["tested"], item["failed"], as_shown(item["pass_rate"]))
    return {"api /v1/evaluations": evaluations, "api /v1/evaluations/series": series, "api /v1/rates": rates}


def _panels(settings: Settings) -> Readings:
    start = datetime.combine(FIRST, time(), ZONE)
    end = datetime.combine(LAST + timedelta(days=1), time(), ZONE) - timedelta(microseconds=1)
    regions: dict[tuple[str, str], Figure] = {}
    tiles: dict[tuple[str, str], Figure] = {}
    plan = presets(settings.plans_dir)["one-number"]
    names = {i.name: i.id for i in plan.indicators}
    with connect(reader_dsn(settings.dsn)) as reader:  # as Grafana's role
        for indicator in {i for i, _ in TRUTH}:
            sql = expand(REGIONS, {"plan": "one-number", "indicator": indicator, "region": "421000"}, start, end)
            for _name, code, samples, value, *_ in reader.execute(sql.encode()).fetchall():
                regions[indicator, code] = Figure(int(samples), None, as_shown(value))
        sql = expand(OVERVIEW_TILES, {"plan": "one-number", "region": "421000", "window": "month_to_date"}, start, end)
        for name, _window, value, _target, _state, samples, failed, *_ in reader.execute(sql.encode()).fetchall():
            tiles[names[name], "421000"] = Figure(int(samples), int(failed), as_shown(value))
    return {"panel 分地区": regions, "panel 指标概览": tiles}


def _report(settings: Settings, db: psycopg.Connection, out: Path) -> Readings:
    plan = presets(settings.plans_dir)["one-number"]
    report = gather(db, plan, *MONTH, timezone=settings.timezone)
    month = {
        (r.indicator.id, "421000"): Figure(r.month.samples, r.month.failed, as_shown(r.month.value))
        for r in report.indicators
    }
    counties = {
        (r.indicator.id, r.region_code): Figure(r.figure.samples, r.figure.failed, as_shown(r.figure.value))
        for r in report.regions
    }
    files = write_report(settings, plan, *MONTH, out, ["xlsx", "csv", "pdf"])
    book = next(p for p in files if p.name == "one-number-2026-03.xlsx")
    names = {i.name: i.id for i in plan.indicators}
    sheet = openpyxl.load_workbook(book, data_only=True)["指标完成情况"]
    xlsx: dict[tuple[str, str], Figure] = {}
    for r in sheet.iter_rows(min_row=4, values_only=True):
        if r[0] in names:
            xlsx[names[str(r[0])], "421000"] = Figure(int(str(r[6])), int(str(r[7])), as_shown(float(str(r[2])) * 100))
    with (out / "one-number-2026-03-指标完成情况.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    as_csv = {
        (names[r["指标"]], "421000"): Figure(int(r["本月样本"]), int(r["不合格"]), Decimal(r["本月"])) for r in rows
    }
    pdf = next(p for p in files if p.suffix == ".pdf")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    printed: dict[tuple[str, str], Figure] = {}
    for indicator in plan.indicators:
        cells = next(c for c in (line.split() for line in text.splitlines()) if c and c[0] == indicator.name)
        rate = next(c for c in cells if c.endswith("%") and not c.startswith(("≥", ">")))
        printed[indicator.id, "421000"] = Figure(int(cells[-1]), None, Decimal(rate.rstrip("%")))
    # The bulletin's 分抽检类型 line for 评价性抽检 (food) is the food evaluative indicator's count for the city.
    line = next(r for r in report.bulletin.sampling_types if r.key == "evaluative")
    bulletin = {
        ("food-evaluative", "421000"): Figure(
            line.month.batches, line.month.failed, as_shown(100 - float(line.month.rate or 0))
        )
    }
    return {
        "report 指标完成情况": month,
        "report 分地区": counties,
        "xlsx 指标完成情况": xlsx,
        "csv 指标完成情况": as_csv,
        "pdf 第1页": printed,
        "bulletin 分抽检类型": bulletin,
    }


@pytest.fixture(scope="module")
def readings(world: tuple[Settings, Any], tmp_path_factory: pytest.TempPathFactory) -> Readings:
    settings, _ = world
    with connect(settings.dsn, autocommit=True) as db:
        return {
            "alert engine": _engine(db),
            **_api(settings),
            **_panels(settings),
            **_report(settings, db, tmp_path_factory.mktemp("report")),
        }


class TestOneNumber:
    def test_every_reader_gives_the_hand_count(self, readings: Readings) -> None:
        assert disagreements(readings) == []

    def test_every_reader_was_read_for_every_figure_it_shows(self, readings: Readings) -> None:
        """No reader passes by reading nothing: each shows the city's food figure at least, and the per-region
        readers every county the hand count has."""
        by_county = {"panel 分地区", "report 分地区"}  # tables of counties, below the city
        assert [r for r, figures in readings.items() if ("food-evaluative", "421000") not in figures] == sorted(
            by_county
        )
        counties = {k for k in TRUTH if k[1] != "421000"}
        for reader in ("alert engine", "api /v1/evaluations", "panel 分地区", "report 分地区"):
            assert counties <= set(readings[reader]), reader

    def test_the_food_tables_count_what_the_indicator_counts_and_no_risk_monitoring(
        self, world: tuple[Settings, Any]
    ) -> None:
        settings, plan = world
        with connect(settings.dsn) as db:
            report = gather(db, plan, *MONTH, timezone=settings.timezone)
        b = report.bulletin
        assert b.scope.label == "食品安全抽检"  # 监督抽检 and 评价性抽检 together, said so
        assert b.total is not None
        assert (b.total.month.batches, b.total.month.failed) == (95 + 17, 4 + 2)
        assert b.risk_monitoring is not None
        assert (b.risk_monitoring.month.batches, b.risk_monitoring.month.failed) == (10, 4)
        assert {r.firm for r in b.repeat_firms}.isdisjoint({"FR"})
        assert all(f.sampling_type != "risk_monitoring" for f in report.failures)
        # 环比 from the rates as shown: 沙市's food in February 98.00 %, the city's evaluative March 95.79 %.
        evaluative = next(r for r in b.sampling_types if r.key == "evaluative")
        assert evaluative.previous_month.batches == 50

    def test_a_reader_that_forgets_void_is_caught(self, world: tuple[Settings, Any], readings: Readings) -> None:
        settings, _ = world

        def forgetful(db: psycopg.Connection) -> Figure:  # counts every current verdict, void included
            row = db.execute(
                "SELECT count(*), count(*) FILTER (WHERE verdict = 'fail') FROM sample_current"
                " WHERE category = 'food' AND sampling_type = 'evaluative' AND day BETWEEN %s AND %s",
                (FIRST, LAST),
            ).fetchone()
            assert row is not None
            tested, failed = int(row[0]), int(row[1])
            return Figure(tested, failed, shown_rate(tested, failed))

        with connect(settings.dsn) as db:
            broken = {**readings, "a reader forgetting void": {("food-evaluative", "421000"): forgetful(db)}}
        assert disagreements(broken) == [
            "a reader forgetting void food-evaluative 421000: got Figure(tested=96, failed=4, rate=Decimal('95.83'))"
            " want Figure(tested=95, failed=4, rate=Decimal('95.79'))"
        ]


class TestAMonthWithoutData:
    def test_every_format_renders_and_says_so(self, world: tuple[Settings, Any], tmp_path: Path) -> None:
        """A plan's quiet month (or one before any data) gives a report, not a traceback: every table without rows
        says 本月无数据, in the workbook, the CSV files and the PDF."""
        settings, plan = world
        files = write_report(settings, plan, 2019, 3, tmp_path, ["xlsx", "csv", "pdf"])
        book = openpyxl.load_workbook(next(p for p in files if p.name == "one-number-2019-03.xlsx"))
        assert book["分大类"]["A4"].value == "本月无数据"
        with (tmp_path / "one-number-2019-03-分大类.csv").open(encoding="utf-8-sig") as f:
            assert list(csv.reader(f))[1] == ["本月无数据"]
        pdf = next(p for p in files if p.suffix == ".pdf")
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "本月无数据" in text
        assert "本月均无足够样本" in text
        assert "无食品安全抽检数据" in text
