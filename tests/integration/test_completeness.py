"""数据完整性 in the database: the SQL twin agrees with qsmon.completeness.reasons, and a month is judged from the
daily rollup of a region."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qsmon import completeness
from qsmon.completeness import month_completeness, reasons
from qsmon.settings import Settings
from tests.factories import result
from tests.workers import DirectWriter

pytestmark = pytest.mark.integration
CHECKS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

months = st.dates(date(2019, 1, 1), date(2021, 12, 1)).map(lambda d: d.replace(day=1))


class TestTwins:
    @CHECKS
    @given(
        first=months,
        tested=st.integers(0, 1000),
        last=st.one_of(st.none(), st.integers(1, 31)),
        usual=st.one_of(st.none(), st.floats(0, 2000).map(lambda f: round(f, 1))),
        later=st.integers(-40, 80),
    )
    def test_python_and_sql_agree_on_why_a_month_is_incomplete(
        self, db: psycopg.Connection, first: date, tested: int, last: int | None, usual: float | None, later: int
    ) -> None:
        month_end = completeness.month_last_day(first)
        last_day = None if last is None else min(first.replace(day=1) + timedelta(days=last - 1), month_end)
        today = month_end + timedelta(days=later)
        row = db.execute(
            "SELECT month_incomplete_reasons(%s::date, %s::bigint, %s::date, %s::numeric, %s::date)",
            (first, tested, last_day, usual, today),
        ).fetchone()
        assert row is not None
        assert tuple(row[0]) == reasons(first, tested, last_day, usual, today)

    def test_the_migration_repeats_the_python_constants(self) -> None:
        sql = resources.files("qsmon.storage.migrations").joinpath("050_month_completeness.sql").read_text()
        assert f"ENDS_EARLY_DAYS {completeness.ENDS_EARLY_DAYS}" in sql
        assert f">= {completeness.ENDS_EARLY_DAYS}" in sql
        assert f"LOW_SHARE {completeness.LOW_SHARE}" in sql
        assert f"< {completeness.LOW_SHARE} * usual" in sql
        assert f"MIN_USUAL {completeness.MIN_USUAL}" in sql
        assert f"usual >= {completeness.MIN_USUAL}," in sql


class TestFromTheRollup:
    def test_a_december_that_stops_on_the_fourth_is_flagged_with_its_last_day(self, settings: Settings) -> None:
        zone = ZoneInfo(settings.timezone)
        results = []
        for month in range(6, 12):  # June to November: 30 results a month, through the month
            results += [
                result(f"M{month}-{d}", at=datetime(2020, month, d, 12, tzinfo=zone), region="330106")
                for d in range(1, 31)
            ]
        results += [
            result(f"D-{d}", at=datetime(2020, 12, d, 12, tzinfo=zone), region="330106", verdict="fail")
            for d in (1, 2, 4)
        ]
        writer = DirectWriter(settings)
        try:
            writer.store_results(results)
        finally:
            writer.close()
        with psycopg.connect(settings.dsn) as conn:
            december = month_completeness(conn, "330000", date(2020, 12, 1), date(2021, 1, 10))
            november = month_completeness(conn, "330000", date(2020, 11, 1), date(2021, 1, 10))
            elsewhere = month_completeness(conn, "420000", date(2020, 12, 1), date(2021, 1, 10))
        assert (december.tested, december.last_day, december.usual) == (3, date(2020, 12, 4), 30.0)
        assert december.reasons == ("ends_early", "low_volume")
        assert november.reasons == ()
        assert (elsewhere.tested, elsewhere.reasons) == (0, ())  # no data there, ever: nothing to say
