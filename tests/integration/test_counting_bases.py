"""Counting bases (issue #16): by manufacturer's place, by sampling level (Tongjiang's two-level target), by report
or announcement date; counted_rows agrees with the rollups on the default basis; the dashboards count the same."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from dashboards.queries import REGIONS
from indicators.evaluate import Scope, fetch_counts
from indicators.labels import counting_text, label_rows
from indicators.windows import DayRange
from qsmon.plans import load_plan_text, presets
from qsmon.plans.counting import Counting
from qsmon.plans.model import CountingDate, Place, Plan
from qsmon.settings import Settings
from qsmon.storage.reference import sync_reference
from qsmon.vocab import SamplingLevel
from tests.factories import result
from tests.workers import DirectWriter

pytestmark = pytest.mark.integration

MARCH = DayRange(date(2026, 3, 1), date(2026, 3, 31))


def _plan(jurisdiction: str, extra: str = "", *, counting_date: str = "sampled") -> Plan:
    return load_plan_text(f"""\
id: counting-{jurisdiction}
title: 测试
issuer: 测试
jurisdiction: {{name: 测试, region_code: "{jurisdiction}"}}
period: {{start: 2020-01-01, end: 2099-12-31}}
counting_date: {counting_date}
indicators:
  - id: made-here
    name: 制造业产品质量合格率
    source: 制造业产品质量合格率
    measure: pass_rate
    filter: {{categories: [manufactured]}}
    target: {{op: ">=", value: 95}}
    windows: [rolling_30d]
    place: manufacturer
  - id: sampled-here
    name: 产品抽检合格率
    source: 产品抽检合格率
    measure: pass_rate
    filter: {{categories: [manufactured]}}
    target: {{op: ">=", value: 95}}
    windows: [rolling_30d]
{extra}""")


TONGJIANG_LEVELS = """\
  - id: national
    name: 国家监督抽查合格率
    source: 国家监督抽查和省级监督检查合格率均……
    measure: pass_rate
    filter: {categories: [manufactured], sampling_levels: [national]}
    target: {op: ">=", value: 95}
    windows: [rolling_30d]
  - id: provincial
    name: 省级监督检查合格率
    source: 国家监督抽查和省级监督检查合格率均……
    measure: pass_rate
    filter: {categories: [manufactured], sampling_levels: [provincial]}
    target: {op: ">=", value: 95}
    windows: [rolling_30d]
"""


def _store(settings: Settings, results: list) -> None:  # type: ignore[type-arg]
    writer = DirectWriter(settings)
    try:
        writer.store_results(results)
    finally:
        writer.close()


def _at(day: int, hour: int = 4) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def test_an_indicator_counts_by_where_it_was_made(settings: Settings, db: psycopg.Connection) -> None:
    # Sampled in 荆州 (421003); made in 荆州 (421002), in 武汉 (420100) or nowhere known.
    made_here = [
        result(
            f"H-{i}",
            category="manufactured",
            at=_at(10),
            verdict="fail" if i < 2 else "pass",
            manufacturer_region_code="421002",
        )
        for i in range(40)
    ]
    made_away = [
        result(
            f"A-{i}",
            category="manufactured",
            at=_at(10),
            verdict="fail" if i < 10 else "pass",
            manufacturer_region_code="420102",
        )
        for i in range(20)
    ]
    unknown = [result(f"U-{i}", category="manufactured", at=_at(10)) for i in range(5)]
    _store(settings, made_here + made_away + unknown)
    jingzhou, wuhan = _plan("421000"), _plan("420100")

    def city(plan: Plan, indicator: str) -> tuple[int, int]:
        counts = fetch_counts(db, plan, plan.indicator(indicator), MARCH, timezone=settings.timezone)
        c = counts[next(s for s in counts if s.region_code == plan.jurisdiction.region_code and not s.subcategory)]
        return c.tested, c.failed

    assert city(jingzhou, "sampled-here") == (65, 12)  # every sample taken in 荆州
    assert city(jingzhou, "made-here") == (40, 2)  # only what 荆州's firms made
    assert city(wuhan, "made-here") == (20, 10)  # 武汉's firms, though sampled in 荆州
    assert city(wuhan, "sampled-here") == (0, 0)
    # ... and the county of manufacture is a scope of its own
    counts = fetch_counts(db, jingzhou, jingzhou.indicator("made-here"), MARCH, timezone=settings.timezone)
    assert {s.region_code: c.tested for s, c in counts.items() if c.tested} == {"421000": 40, "421002": 40}


def test_tongjiang_two_levels_are_two_indicators(settings: Settings, db: psycopg.Connection) -> None:
    """The preset's 国家监督抽查和省级监督检查合格率均稳定在90%以上: one indicator per level."""

    def supervisory(prefix: str, n: int, fails: int, level: str | None) -> list:  # type: ignore[type-arg]
        extra: dict[str, Any] = {"sampling_level": level} if level else {}
        return [
            result(
                f"{prefix}-{i}",
                category="manufactured",
                sampling_type="supervisory",
                at=_at(5),
                region="230881",
                verdict="fail" if i < fails else "pass",
                **extra,
            )
            for i in range(n)
        ]

    _store(
        settings,
        supervisory("N", 30, 3, "national")
        + supervisory("P", 50, 1, "provincial")
        + supervisory("C", 7, 0, "city")
        + supervisory("X", 4, 0, None),
    )
    plan = presets()["tongjiang-2016"]

    def tested_failed(indicator: str) -> tuple[int, int]:
        c = fetch_counts(db, plan, plan.indicator(indicator), MARCH, timezone=settings.timezone)
        total = next(v for s, v in c.items() if s.region_code == "230881" and not s.subcategory)
        return total.tested, total.failed

    assert tested_failed("product-national-supervisory-pass") == (30, 3)
    assert tested_failed("product-provincial-supervisory-pass") == (50, 1)
    unfiltered = _plan("230881")  # no level filter: every level, and the results without one
    assert (
        fetch_counts(db, unfiltered, unfiltered.indicator("sampled-here"), MARCH, timezone=settings.timezone)[
            Scope("230881")
        ].tested
        == 91
    )


def test_counting_by_report_or_announcement_date(settings: Settings, db: psycopg.Connection) -> None:
    # Sampled in February; reported 2026-03-31 17:30 UTC (01:30 on 1 April in China) or announced in March.
    late_report = [
        result(
            f"R-{i}",
            category="manufactured",
            at=datetime(2026, 2, 20, 4, tzinfo=UTC),
            reported_at=datetime(2026, 3, 31, 17, 30, tzinfo=UTC),
        )
        for i in range(6)
    ]
    announced = [
        result(
            f"A-{i}",
            category="manufactured",
            at=datetime(2026, 2, 25, 4, tzinfo=UTC),
            reported_at=datetime(2026, 3, 2, tzinfo=UTC),
            announcement_date=date(2026, 3, 20),
        )
        for i in range(9)
    ]
    _store(settings, late_report + announced)
    april = DayRange(date(2026, 4, 1), date(2026, 4, 30))
    february = DayRange(date(2026, 2, 1), date(2026, 2, 28))

    def tested(basis: str, days: DayRange) -> int:
        plan = _plan("421000", counting_date=basis)
        c = fetch_counts(db, plan, plan.indicator("sampled-here"), days, timezone=settings.timezone)
        return c[next(s for s in c if s.region_code == "421000" and not s.subcategory)].tested

    assert (tested("sampled", february), tested("sampled", MARCH)) == (15, 0)
    assert (tested("reported", MARCH), tested("reported", april)) == (9, 6)  # the local day, not the UTC one
    assert (tested("announced", MARCH), tested("announced", february)) == (9, 0)  # unannounced count nowhere


def test_counted_rows_on_the_default_basis_equal_the_rollups(settings: Settings, db: psycopg.Connection) -> None:
    """The void and score rules of counted_rows() are the worker's (streams.batch_sql): the sums agree."""
    results = [
        result(
            f"D-{i}",
            at=_at(1 + i % 28, i % 24),
            verdict=("fail", "pass", "pass")[i % 3],
            category=("food", "manufactured", "agricultural")[i % 3],
            region=("421003", "421081")[i % 2],
            score=float(i % 100) if i % 5 == 0 else None,
        )
        for i in range(300)
    ]
    results += [result("D-7", revision=2, verdict="void", at=_at(8, 7), category="manufactured", region="421081")]
    _store(settings, results)
    columns = "category, subcategory, sampling_type, stage, region_code, grade"
    sums = "sum(tested), sum(passed), sum(failed), sum(score_sum), sum(score_count), sum(score_sq_sum)"
    rollups = db.execute(
        f"SELECT {columns}, {sums} FROM rollup_rows(%s, %s, false) GROUP BY {columns} ORDER BY {columns}",
        (MARCH.first, MARCH.last),
    ).fetchall()
    counted = db.execute(
        f"SELECT {columns}, {sums} FROM counted_rows(%s, %s, %s, 'sampled', 'sampling_site', '{{}}')"
        f" GROUP BY {columns} ORDER BY {columns}",
        (MARCH.first, MARCH.last, settings.timezone),
    ).fetchall()
    assert len(rollups) > 3
    assert counted == rollups


def test_the_rollups_by_place_of_manufacture_agree_with_the_current_verdicts(
    settings: Settings, db: psycopg.Connection
) -> None:
    """The worker keeps rollup_*_made (migration 020) as counted_rows would count by the manufacturer's place,
    through corrections and voids; the rebuild's audit finds nothing to repair."""
    from streams.rebuild import differences

    results = [
        result(
            f"W-{i}",
            at=_at(1 + i % 28, i % 24),
            category="manufactured",
            region="421003",
            manufacturer_region_code=("421002", "420102", "421081")[i % 3],
            verdict="fail" if i % 7 == 0 else "pass",
        )
        for i in range(200)
    ]
    results += [
        result(
            "W-7",
            revision=2,
            at=_at(8, 7),
            category="manufactured",
            region="421003",
            manufacturer_region_code="421081",
            verdict="pass",
        ),  # a 复检 moves it to another place
        result(
            "W-14",
            revision=2,
            at=_at(15, 14),
            category="manufactured",
            region="421003",
            manufacturer_region_code="421081",
            verdict="void",
        ),
    ]
    _store(settings, results)
    columns = "category, subcategory, sampling_type, stage, region_code, grade"
    sums = "sum(tested), sum(passed), sum(failed)"
    made = db.execute(
        f"SELECT {columns}, {sums} FROM rollup_rows_made(%s, %s) GROUP BY {columns} ORDER BY {columns}",
        (MARCH.first, MARCH.last),
    ).fetchall()
    counted = db.execute(
        f"SELECT {columns}, {sums} FROM counted_rows(%s, %s, %s, 'sampled', 'manufacturer', '{{}}')"
        f" GROUP BY {columns} ORDER BY {columns}",
        (MARCH.first, MARCH.last, settings.timezone),
    ).fetchall()
    assert made == counted
    assert {row[4] for row in made} == {"421002", "420102", "421081"}
    assert differences(db) == []
    plan = _plan("421000")
    assert Counting.of(plan, plan.indicator("made-here")).source == "made_rollups"


def test_the_choice_of_source_is_stored_for_the_dashboards(settings: Settings, db: psycopg.Connection) -> None:
    plan = _plan("421000", TONGJIANG_LEVELS, counting_date="sampled")
    sync_reference(db, [plan])
    sources: dict[str, str] = dict(
        db.execute(
            "SELECT indicator_id, counting_source FROM plan_indicators WHERE plan_id = %s", (plan.id,)
        ).fetchall()
    )
    assert sources == {i.id: Counting.of(plan, i).source for i in plan.indicators}
    assert sources == {
        "made-here": "made_rollups",
        "sampled-here": "rollups",
        "national": "current",
        "provincial": "current",
    }
    assert Counting(CountingDate.ANNOUNCED, Place.SAMPLING_SITE).source == "current"


@pytest.mark.parametrize(
    "counting",
    [
        Counting(),
        Counting(CountingDate.ANNOUNCED, Place.MANUFACTURER),
        Counting(CountingDate.REPORTED, Place.SAMPLING_SITE, (SamplingLevel.NATIONAL, SamplingLevel.PROVINCIAL)),
    ],
)
def test_the_dashboards_name_the_basis_in_the_reports_words(
    settings: Settings, db: psycopg.Connection, counting: Counting
) -> None:
    sync_reference(db, [], label_rows())
    row = db.execute(
        "SELECT counting_text(%s, %s, %s::text[])",
        (counting.date.value, counting.place.value, [v.value for v in counting.levels]),
    ).fetchone()
    assert row is not None
    assert row[0] == counting_text(counting)


def test_the_regions_panel_counts_each_indicator_on_its_own_basis(settings: Settings, db: psycopg.Connection) -> None:
    results = [
        result(
            f"M-{i}",
            category="manufactured",
            at=_at(12),
            region="421003",
            manufacturer_region_code="421081" if i < 30 else "421002",
            verdict="fail" if i % 10 == 0 else "pass",
        )
        for i in range(50)
    ]
    _store(settings, results)
    plan = _plan("421000")
    sync_reference(db, [plan])
    # Grafana's macros and variables, as the panel test harness substitutes them.
    frm = datetime(2026, 3, 1, tzinfo=UTC) - timedelta(hours=8)
    to = datetime(2026, 3, 31, 15, 59, tzinfo=UTC)
    for indicator in ("made-here", "sampled-here"):
        sql = (
            REGIONS.replace("$__timeFrom()", f"'{frm.isoformat()}'")
            .replace("$__timeTo()", f"'{to.isoformat()}'")
            .replace("$plan", plan.id)
            .replace("$indicator", indicator)
            .replace("$region", "421000")
        )
        panel = {code: int(samples) for _, code, samples, *_ in db.execute(sql.encode()).fetchall()}
        counts = fetch_counts(db, plan, plan.indicator(indicator), MARCH, timezone=settings.timezone)
        expected = {
            s.region_code: c.tested
            for s, c in counts.items()
            if c.tested and s.region_code != "421000" and not s.subcategory
        }
        assert panel == expected, indicator
    assert panel == {"421003": 50}  # the last one checked counts where sampled
