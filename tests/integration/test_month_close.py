"""Month close (issue #16): what was reported upward is frozen; late corrections show as 上报后更正 in the next
monthly report and on the overview dashboard, reported against current."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from dashboards.macros import expand
from dashboards.queries import OVERVIEW_REPORTED_MONTHS
from qsmon import clock
from qsmon.plans import load_plan_text
from qsmon.settings import Settings
from qsmon.storage import connect
from qsmon.storage.reference import sync_reference
from reports.data import gather
from reports.months import MonthAlreadyClosedError, MonthNotOverError, close_month, closed_months, corrections
from reports.summary import summary
from reports.tables import corrections as corrections_table
from tests.factories import result
from tests.workers import DirectWriter, reader_dsn

pytestmark = pytest.mark.integration

PLAN = load_plan_text("""\
id: close-test
title: 测试市质量强市
issuer: 测试
jurisdiction: {name: 荆州市, region_code: "421000"}
period: {start: 2026-01-01, end: 2026-12-31}
indicators:
  - id: food-pass
    name: 食品抽检合格率
    source: 食品抽检合格率
    measure: pass_rate
    filter: {categories: [food]}
    target: {op: ">=", value: 98}
    windows: [month_to_date]
  - id: made-here
    name: 制造业产品质量合格率
    source: 制造业产品质量合格率
    measure: pass_rate
    filter: {categories: [manufactured]}
    target: {op: ">=", value: 95}
    windows: [month_to_date]
    place: manufacturer
""")

FEBRUARY = datetime(2026, 2, 10, 3, tzinfo=UTC)


@pytest.fixture
def writer(settings: Settings) -> Iterator[DirectWriter]:
    """One writer for the test: its offsets go on, so a later write is new records, not a redelivery."""
    writer = DirectWriter(settings)
    yield writer
    writer.close()


def test_a_correction_after_the_close_shows_as_a_revision_line(
    settings: Settings, db: psycopg.Connection, writer: DirectWriter
) -> None:
    food = [
        result(
            f"F-{i}",
            at=FEBRUARY,
            region="421003" if i < 100 else "421081",
            verdict="fail" if i in (0, 1, 100) else "pass",
        )
        for i in range(150)
    ]
    made = [
        result(
            f"M-{i}",
            at=FEBRUARY,
            category="manufactured",
            manufacturer_region_code="421002",
            verdict="fail" if i == 0 else "pass",
        )
        for i in range(40)
    ]
    writer.store_results(food + made)
    stored = close_month(db, [PLAN], 2026, 2, closed_by="张三", note="荆市监〔2026〕12号", timezone=settings.timezone)
    assert stored > 4  # both indicators, the city and every county below it
    assert [(m.isoformat(), by, n) for m, by, _, n in closed_months(db)] == [("2026-02-01", "张三", stored)]
    assert corrections(db, PLAN, 2026, 3, timezone=settings.timezone) == []

    # In March: a 复检 overturns F-5 into a fail, a late February sample arrives, a product made here is voided.
    writer.store_results(
        [
            result("F-5", revision=2, at=FEBRUARY, region="421003", verdict="fail"),
            result("F-late", at=FEBRUARY, region="421081"),
            result(
                "M-1",
                revision=2,
                at=FEBRUARY,
                category="manufactured",
                manufacturer_region_code="421002",
                verdict="void",
            ),
        ]
    )
    found = {(c.indicator.id, c.region_code): c for c in corrections(db, PLAN, 2026, 3, timezone=settings.timezone)}
    assert set(found) == {
        ("food-pass", "421000"),
        ("food-pass", "421003"),
        ("food-pass", "421081"),
        ("made-here", "421000"),
        ("made-here", "421002"),
    }
    city = found[("food-pass", "421000")]
    assert (city.reported.samples, city.reported.failed) == (150, 3)
    assert city.reported.value == pytest.approx(98.0)
    assert (city.current.samples, city.current.failed) == (151, 4)
    assert city.change == pytest.approx(147 / 151 * 100 - 98.0)
    assert (found[("made-here", "421002")].reported.samples, found[("made-here", "421002")].current.samples) == (40, 39)

    report = gather(db, PLAN, 2026, 3, timezone=settings.timezone)
    assert {(c.indicator.id, c.region_code) for c in report.corrections} == set(found)
    table = corrections_table(report)
    assert table.name == "上报后更正"
    assert len(table.rows) == 5
    assert "上报后更正：已关账的2026-02有5项数据" in summary(report)

    # The overview panel, as Grafana's role runs it: reported against current for the city.
    sync_reference(db, [PLAN])
    db.commit()
    sql = expand(OVERVIEW_REPORTED_MONTHS, {"plan": PLAN.id, "region": "421000"}, FEBRUARY, FEBRUARY)
    with connect(reader_dsn(settings.dsn)) as reader:
        rows = reader.execute(sql.encode()).fetchall()
    panel = {
        name: (float(reported), float(current), int(reported_samples), int(current_samples))
        for _, name, reported, current, _, reported_samples, current_samples, *_ in rows
    }
    reported, current, reported_samples, current_samples = panel["食品抽检合格率"]
    assert (reported_samples, current_samples) == (150, 151)
    assert reported == pytest.approx(98.0)
    assert current == pytest.approx(147 / 151 * 100)
    assert panel["制造业产品质量合格率"][2:] == (40, 39)

    # Closing again is refused unless asked for (the month re-reported); then nothing differs any more.
    with pytest.raises(MonthAlreadyClosedError):
        close_month(db, [PLAN], 2026, 2, closed_by="张三", timezone=settings.timezone)
    close_month(db, [PLAN], 2026, 2, closed_by="李四", again=True, timezone=settings.timezone)
    assert corrections(db, PLAN, 2026, 3, timezone=settings.timezone) == []
    # The month under way, and any later one, cannot have been reported yet.
    today = clock.today(settings.timezone)
    for year, month in ((today.year, today.month), (today.year + 1, 1)):
        with pytest.raises(MonthNotOverError):
            close_month(db, [PLAN], year, month, closed_by="张三", timezone=settings.timezone)
