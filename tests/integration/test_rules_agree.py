"""Rules written in Python and repeated in SQL agree: the region rule, the indicator filter, silences, top items,
plan status and the first revision."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from alerts import store
from indicators.counting import admits, filter_params, filter_sql
from indicators.evaluate import Evaluation, Scope
from indicators.failures import top_failed_items
from indicators.stats import Interval, State
from indicators.windows import DayRange
from qsmon import clock
from qsmon.plans import load_plan_text
from qsmon.plans.model import Filter, Op
from qsmon.regions import is_within, like_pattern
from qsmon.schema import FIRST_REVISION
from qsmon.settings import Settings
from qsmon.vocab import Category, SamplingType, Stage
from streams.records import SourceRecord, classify
from streams.store import ResultStore
from tests.factories import result

pytestmark = pytest.mark.integration
CHECKS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

digits = st.text("0123456789", min_size=2, max_size=2)
region_codes = st.one_of(
    st.just("000000"),  # the nation: covers every code
    st.builds(lambda p: f"{p}0000", digits),  # province
    st.builds(lambda p, c: f"{p}{c}00", digits, digits),  # city
    st.builds(lambda p, c, d: f"{p}{c}{d}", digits, digits, digits),  # county (or anything)
)
SUBCATEGORIES = ["蔬菜", "水果", "畜禽肉", ""]
filters = st.builds(
    Filter,
    categories=st.lists(st.sampled_from(list(Category)), min_size=1, max_size=3, unique=True).map(tuple),
    sampling_types=st.lists(st.sampled_from(list(SamplingType)), max_size=2, unique=True).map(tuple),
    subcategories=st.lists(st.sampled_from(SUBCATEGORIES[:3]), max_size=2, unique=True).map(tuple),
    stages=st.lists(st.sampled_from(list(Stage)), max_size=2, unique=True).map(tuple),
)


class TestRegionRule:
    @CHECKS
    @given(code=region_codes, ancestor=region_codes)
    def test_python_and_sql_agree_on_what_lies_within_a_region(
        self, db: psycopg.Connection, code: str, ancestor: str
    ) -> None:
        row = db.execute("SELECT region_pattern(%s), %s LIKE region_pattern(%s)", (ancestor, code, ancestor)).fetchone()
        assert row == (like_pattern(ancestor), is_within(code, ancestor))


class TestIndicatorFilter:
    @CHECKS
    @given(
        f=filters,
        category=st.sampled_from(list(Category)),
        sampling_type=st.sampled_from(list(SamplingType)),
        subcategory=st.sampled_from(SUBCATEGORIES),
        stage=st.sampled_from([*Stage, ""]),
    )
    def test_python_and_sql_agree_on_which_results_an_indicator_counts(
        self, db: psycopg.Connection, f: Filter, category: str, sampling_type: str, subcategory: str, stage: str
    ) -> None:
        key = {"category": category, "sampling_type": sampling_type, "subcategory": subcategory, "stage": stage}
        row = db.execute(
            f"SELECT {filter_sql()} FROM (SELECT %(category)s AS category, %(sampling_type)s AS"
            " sampling_type, %(subcategory)s AS subcategory, %(stage)s AS stage) k",
            key | filter_params(f),
        ).fetchone()
        assert row == (admits(f, **key),)


def evaluation(region: str) -> Evaluation:
    days = DayRange(date(2026, 11, 1), date(2026, 11, 30))
    return Evaluation(
        "p", "i", Scope(region), "rolling_30d", days, 100, 5, 95.0, Interval(90, 98), Op.GE, 98.0, None, State.CRITICAL
    )


class TestSilences:
    @pytest.mark.parametrize(
        ("silenced_region", "region", "expected"),
        [
            ("421000", "421000", True),  # 荆州市 itself
            ("421000", "421083", True),  # 洪湖市, one of its counties
            ("421000", "421100", False),  # 黄冈市: shares the digits 421, not the city
            ("421000", "421102", False),  # a county of 黄冈市
            ("420000", "421102", True),  # the province covers every city and county
            ("421083", "421000", False),  # a county's silence does not cover its city
        ],
    )
    def test_a_citys_silence_covers_exactly_its_counties(
        self, db: psycopg.Connection, silenced_region: str, region: str, expected: bool
    ) -> None:
        now = clock.now()
        db.execute(
            "INSERT INTO silences (region_code, until, reason) VALUES (%s, %s, 'test')",
            (silenced_region, now + timedelta(hours=1)),
        )
        assert store.silenced(db, evaluation(region), "critical", now) is expected


class TestTopFailedItems:
    def test_they_follow_the_indicators_whole_filter(self, settings: Settings, db: psycopg.Connection) -> None:
        at = datetime(2026, 11, 10, 2, tzinfo=UTC)
        events = [
            result(
                "VEG-1",
                verdict="fail",
                at=at,
                category="agricultural",
                sampling_type="routine_monitoring",
                subcategory="蔬菜",
                region="421083",
            ),
            result(
                "FRUIT-1",
                verdict="fail",
                at=at,
                category="agricultural",
                sampling_type="routine_monitoring",
                subcategory="水果",
                region="421083",
                failed_items=({"item": "腐霉利", "measured": "0.5", "limit": "≤0.2", "unit": "mg/kg"},),
            ),
            result(
                "RISK-1",
                verdict="fail",
                at=at,
                category="agricultural",
                sampling_type="risk_monitoring",
                subcategory="蔬菜",
                region="421083",
                failed_items=({"item": "镉", "measured": "0.3", "limit": "≤0.2", "unit": "mg/kg"},),
            ),
        ]
        records = [SourceRecord(0, i, e.key, e.to_json()) for i, e in enumerate(events)]
        writer = ResultStore(settings.dsn, group="g", topic="t")
        writer.write(classify(records, clock.now())[0], records)
        writer.close()
        plan = load_plan_text("""\
id: items-test
title: 测试
issuer: 测试
jurisdiction: {name: 荆州市, region_code: "421000"}
period: {start: 2020-01-01, end: 2030-12-31}
indicators:
  - id: vegetables
    name: 蔬菜例行监测合格率
    source: 蔬菜例行监测合格率98%以上
    measure: pass_rate
    filter: {categories: [agricultural], sampling_types: [routine_monitoring], subcategories: [蔬菜]}
    target: {op: ">=", value: 98}
    windows: [rolling_30d]
""")
        days = DayRange(date(2026, 11, 1), date(2026, 11, 30))
        items = top_failed_items(db, plan.indicators[0], days, "421000")
        assert [(i.item, i.failures) for i in items] == [("毒死蜱", 1)]  # not 水果's 腐霉利, not risk monitoring's 镉


class TestPlanStatus:
    @CHECKS
    @given(
        start=st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31)),
        length=st.integers(0, 2000),
        extension=st.one_of(st.none(), st.integers(0, 1000)),
        today=st.dates(min_value=date(2014, 1, 1), max_value=date(2036, 12, 31)),
    )
    def test_python_and_sql_agree_on_whether_a_plan_is_in_force(
        self, db: psycopg.Connection, start: date, length: int, extension: int | None, today: date
    ) -> None:
        end = start + timedelta(days=length)
        until = None if extension is None else end + timedelta(days=extension)
        plan = load_plan_text(f"""\
id: status-test
title: 测试
issuer: 测试
jurisdiction: {{name: 荆州市, region_code: "421000"}}
period: {{start: {start}, end: {end}}}
{"" if until is None else f"in_force_until: {until}"}
indicators:
  - {{id: xx, name: x, source: x, measure: pass_rate, filter: {{categories: [food]}}, target: {{op: ">=", value: 98}},
      windows: [rolling_30d]}}
""")
        row = db.execute("SELECT plan_status(%s, %s, %s, %s)", (start, end, until, today)).fetchone()
        assert row == (plan.status(today).value,)


class TestFirstRevision:
    def test_the_database_holds_revisions_to_the_schemas_first(self, db: psycopg.Connection) -> None:
        """streams.batch_sql looks up a sample's current row only for revisions after the first: the database
        refuses what the schema refuses, so no stored row can sit below it."""
        for table in ("sample_current", "inspection_results"):
            row = db.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s AND conrelid = %s::regclass",
                (f"{table}_first_revision", table),
            ).fetchone()
            assert row == (f"CHECK ((revision >= {FIRST_REVISION}))",)
        with pytest.raises(ValidationError):
            result("r-first", revision=FIRST_REVISION - 1)
