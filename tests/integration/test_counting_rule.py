"""Every SQL twin of the counting rule (indicators.counting) equals its Python rule on the real database: the rate,
the Wilson interval, measure hits, the types standing apart, the indicator filter's default, and void results, which
the worker's rollups, their rebuild and counted_rows() all leave out."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indicators.counting import APART, hits, in_totals, is_counted, points, rate, shown
from indicators.stats import wilson
from qsmon.plans.model import Measure
from qsmon.settings import Settings
from qsmon.vocab import SamplingType, Verdict
from streams.rebuild import differences
from tests.factories import result
from tests.workers import DirectWriter

pytestmark = pytest.mark.integration
CHECKS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

counts = st.integers(min_value=0, max_value=10**7).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)


class TestRate:
    @CHECKS
    @given(hit_n=counts)
    def test_rate_pct_is_rate(self, db: psycopg.Connection, hit_n: tuple[int, int]) -> None:
        hit, n = hit_n
        row = db.execute(
            "SELECT rate_pct(%s, %s), round((100.0 * %s / nullif(%s, 0))::numeric, 2)", (hit, n, hit, n)
        ).fetchone()
        assert row is not None
        assert row[0] == rate(hit, n)  # the same float, so the same two decimals everywhere
        assert row[1] == shown(rate(hit, n))  # PostgreSQL's half-away-from-zero round is shown()'s half up

    def test_no_tested_results_is_no_rate_never_zero(self, db: psycopg.Connection) -> None:
        assert db.execute("SELECT rate_pct(0, 0)").fetchone() == (None,)
        assert rate(0, 0) is None

    def test_differences_are_those_of_the_shown_rates(self) -> None:
        # 92.3049… shows as 92.30 and 91.5549… as 91.55: the difference a reader computes is 0.75, not 0.7500…1.
        assert points(92.30499, 91.55491) == Decimal("92.30") - Decimal("91.55") == Decimal("0.75")
        assert shown(12.345) == shown(100 * 2469 / 20000)  # an exact half rounds up, whatever the float's tail


class TestWilson:
    @CHECKS
    @given(hit_n=counts.filter(lambda c: c[1] > 0))
    def test_the_sql_interval_is_the_python_interval(self, db: psycopg.Connection, hit_n: tuple[int, int]) -> None:
        hit, n = hit_n
        row = db.execute("SELECT wilson_low(%s, %s), wilson_high(%s, %s)", (hit, n, hit, n)).fetchone()
        assert row is not None
        interval = wilson(hit, n)
        assert row == (pytest.approx(interval.low, abs=1e-9), pytest.approx(interval.high, abs=1e-9))


class TestHits:
    @CHECKS
    @given(
        measure=st.sampled_from([m for m in Measure if m is not Measure.MEAN_SCORE]),
        passed=st.integers(0, 10**6),
        failed=st.integers(0, 10**6),
        graded=st.integers(0, 10**6),
    )
    def test_measure_hits_is_hits(
        self, db: psycopg.Connection, measure: Measure, passed: int, failed: int, graded: int
    ) -> None:
        row = db.execute("SELECT measure_hits(%s, %s, %s, %s)", (measure.value, passed, failed, graded)).fetchone()
        assert row == (hits(measure, passed=passed, failed=failed, graded=graded),)


class TestApart:
    def test_in_totals_agrees_for_every_sampling_type(self, db: psycopg.Connection) -> None:
        types = [t.value for t in SamplingType]
        sql: dict[str, bool] = dict(db.execute("SELECT t, in_totals(t) FROM unnest(%s::text[]) t", (types,)).fetchall())
        assert sql == {t: in_totals(t) for t in types}
        assert {t for t, counted in sql.items() if not counted} == {t.value for t in APART}

    def test_an_indicator_naming_no_type_counts_the_types_in_totals(self, db: psycopg.Connection) -> None:
        types = [t.value for t in SamplingType]
        admitted = {
            t
            for (t,) in db.execute(
                "SELECT t FROM unnest(%s::text[]) t WHERE filter_admits('{food}', '{}', '{}', '{}', 'food', t, '', '')",
                (types,),
            )
        }
        assert admitted == {t for t in types if in_totals(t)}


verdicts = st.lists(
    st.tuples(st.integers(0, 30), st.sampled_from(list(Verdict)), st.sampled_from(["evaluative", "risk_monitoring"])),
    min_size=1,
    max_size=40,
)


class TestVoid:
    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(history=verdicts)
    def test_void_counts_nowhere_in_rollups_rebuild_or_counted_rows(
        self, settings: Settings, db: psycopg.Connection, history: list[tuple[int, Verdict, str]]
    ) -> None:
        """Revisions of up to 31 samples, each ending in any verdict: the rollups (the worker's deltas), their
        rebuild and counted_rows() all count what the Python rule counts from the final verdicts."""
        db.execute(
            "TRUNCATE sample_current, inspection_results, rollup_daily, rollup_monthly, failure_current,"
            " failed_item_monthly, failed_firm_yearly, rollup_daily_made, rollup_monthly_made, stream_offsets,"
            " cases CASCADE"
        )
        writer = DirectWriter(settings)
        revision: Counter[int] = Counter()
        final: dict[int, tuple[Verdict, str]] = {}
        at = datetime(2026, 3, 10, 3, tzinfo=UTC)
        try:
            for sample, verdict, kind in history:
                revision[sample] += 1
                final[sample] = (verdict, kind)
                writer.store_results(
                    [result(f"V-{sample}", revision=revision[sample], verdict=verdict.value, at=at, sampling_type=kind)]
                )
        finally:
            writer.close()
        tested = sum(is_counted(v.value) for v, _ in final.values())
        passed = sum(v is Verdict.PASS for v, _ in final.values())
        failed = sum(v is Verdict.FAIL for v, _ in final.values())
        day = date(2026, 3, 10)
        rollups = db.execute(
            "SELECT coalesce(sum(tested), 0), coalesce(sum(passed), 0), coalesce(sum(failed), 0)"
            " FROM rollup_rows(%s, %s)",
            (day, day),
        ).fetchone()
        counted = db.execute(
            "SELECT coalesce(sum(tested), 0), coalesce(sum(passed), 0), coalesce(sum(failed), 0)"
            " FROM counted_rows(%s, %s, 'Asia/Shanghai', 'sampled', 'sampling_site', '{}')",
            (day, day),
        ).fetchone()
        assert rollups == counted == (tested, passed, failed)
        assert differences(db) == []  # the rebuild recomputes exactly what the worker maintained
