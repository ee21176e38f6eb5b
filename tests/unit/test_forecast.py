"""The year's error budget, burn rate, needed rate and year-end forecast (indicators.forecast)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from indicators.forecast import (
    Outcome,
    VolumeSource,
    beta_binomial_pmf,
    burn_rate,
    failure_budget,
    max_failures,
    needed_rate,
    planned_batches,
    year_end_forecast,
)


class TestBudget:
    def test_a_98_5_percent_target_over_36000_batches_allows_540_failures(self) -> None:
        assert failure_budget(98.5, 36000) == pytest.approx(540)

    def test_a_window_failing_at_the_budgets_rate_burns_at_one(self) -> None:
        assert burn_rate(15, 1000, 98.5) == pytest.approx(1.0)
        assert burn_rate(45, 1000, 98.5) == pytest.approx(3.0)

    def test_an_empty_window_or_a_100_percent_target_has_no_burn_rate(self) -> None:
        assert burn_rate(0, 0, 98.5) is None
        assert burn_rate(1, 100, 100) is None


class TestNeededRate:
    def test_the_rest_of_the_year_must_make_up_for_a_weak_start(self) -> None:
        # 9,000 counted at 98 % (180 failures) of 36,000 planned: the other 27,000 need 98.667 %.
        assert needed_rate(98.5, 9000, 8820, 27000) == pytest.approx(98.6667, abs=1e-3)

    def test_over_100_percent_means_lost(self) -> None:
        assert needed_rate(98.5, 35000, 34300, 1000) is not None
        assert needed_rate(98.5, 35000, 34300, 1000) > 100  # type: ignore[operator]

    def test_nothing_remaining_needs_nothing(self) -> None:
        assert needed_rate(98.5, 36000, 35500, 0) is None

    @given(st.integers(1, 5000), st.integers(0, 5000), st.integers(1, 5000), st.floats(50, 99.9))
    def test_meeting_the_needed_rate_exactly_lands_on_the_target(
        self, tested: int, failed: int, remaining: int, target: float
    ) -> None:
        good = max(0, tested - failed)
        needed = needed_rate(target, tested, good, remaining)
        assert needed is not None
        assert (good + needed / 100 * remaining) / (tested + remaining) * 100 == pytest.approx(target)


class TestYearEndForecast:
    def test_a_lost_year_has_probability_zero(self) -> None:
        # 700 failures of 35,000 with 1,000 to go: even 1,000 passes leave 98.06 %.
        f = year_end_forecast(98.5, 35000, 34300, 1000, 9000, 100)
        assert f.outcome is Outcome.LOST
        assert f.probability == 0.0
        assert f.high < 98.5

    def test_a_met_year_has_probability_one(self) -> None:
        # 100 failures of 35,000 with 200 to go: even 200 more failures leave 99.15 %.
        f = year_end_forecast(98.5, 35000, 34900, 200, 9000, 100)
        assert f.outcome is Outcome.MET
        assert f.probability == 1.0
        assert f.low > 98.5

    def test_an_open_year_at_a_rate_well_below_target_is_unlikely_to_be_met(self) -> None:
        f = year_end_forecast(98.5, 18000, 17760, 18000, 2000, 50)  # 98.67 % so far, 97.5 % lately
        assert f.outcome is Outcome.OPEN
        assert f.probability < 0.05
        assert f.low < f.projected < f.high
        # The median of the year end: the recent 97.5 % for the second half, give or take one failure.
        assert f.projected == pytest.approx((17760 + 18000 * (1 - 50.5 / 2001)) / 36000 * 100, abs=0.01)

    def test_more_recent_evidence_than_the_cap_does_not_narrow_the_interval_further(self) -> None:
        capped = year_end_forecast(98.5, 18000, 17760, 18000, 9000, 180)
        at_cap = year_end_forecast(98.5, 18000, 17760, 18000, 2000, 40)
        assert capped.high - capped.low == pytest.approx(at_cap.high - at_cap.low, abs=0.01)

    def test_a_year_on_target_is_a_coin_toss(self) -> None:
        f = year_end_forecast(98.5, 18000, 17730, 18000, 2000, 30)
        assert 0.35 < f.probability < 0.65

    def test_a_strict_target_is_missed_by_landing_on_it(self) -> None:
        assert max_failures(98.0, 50, 49, 50) == 1  # 98/100 meets ≥ 98
        assert max_failures(98.0, 50, 49, 50, strict=True) == 0  # but not > 98

    def test_no_recent_batches_leave_the_prior_and_a_wide_interval(self) -> None:
        f = year_end_forecast(98.5, 0, 0, 1000, 0, 0)
        assert f.high - f.low > 20


class TestBetaBinomial:
    @pytest.mark.parametrize(("n", "alpha", "beta"), [(1, 0.5, 0.5), (10, 2.0, 30.0), (5000, 12.5, 900.5)])
    def test_the_pmf_sums_to_one_and_has_the_beta_binomial_mean(self, n: int, alpha: float, beta: float) -> None:
        pmf = beta_binomial_pmf(n, alpha, beta)
        assert pmf.sum() == pytest.approx(1.0)
        assert float((np.arange(n + 1) * pmf).sum()) == pytest.approx(n * alpha / (alpha + beta), rel=1e-6)

    def test_it_matches_the_closed_form_for_small_n(self) -> None:
        n, a, b = 3, 2.0, 5.0

        def closed(k: int) -> float:
            return math.comb(n, k) * math.exp(
                math.lgamma(k + a)
                + math.lgamma(n - k + b)
                - math.lgamma(n + a + b)
                - math.lgamma(a)
                - math.lgamma(b)
                + math.lgamma(a + b)
            )

        assert beta_binomial_pmf(n, a, b) == pytest.approx([closed(k) for k in range(n + 1)])


class TestPlannedBatches:
    def test_the_plans_task_comes_first_a_region_takes_its_share(self) -> None:
        planned = planned_batches(task_per_year=36000, share=0.25, last_year=8000, so_far=3000, elapsed=0.3)
        assert (planned.batches, planned.source) == (9000, VolumeSource.TASK)

    def test_without_a_task_last_years_volume_is_stated(self) -> None:
        planned = planned_batches(task_per_year=None, share=None, last_year=8000, so_far=2000, elapsed=0.3)
        assert (planned.batches, planned.source) == (8000, VolumeSource.LAST_YEAR)
        assert "上年" in planned.text

    def test_a_year_with_no_plan_volume_and_no_history_extrapolates_this_years_pace(self) -> None:
        planned = planned_batches(task_per_year=None, share=None, last_year=0, so_far=3000, elapsed=0.25)
        assert (planned.batches, planned.source) == (12000, VolumeSource.PACE)
        assert "推算" in planned.text

    def test_a_year_running_ahead_of_last_years_volume_is_extrapolated_not_closed(self) -> None:
        planned = planned_batches(task_per_year=None, share=None, last_year=100, so_far=300, elapsed=0.75)
        assert (planned.batches, planned.source) == (400, VolumeSource.PACE)

    def test_never_fewer_than_already_counted(self) -> None:
        assert planned_batches(task_per_year=36000, share=0.01, last_year=0, so_far=500, elapsed=0.9).batches == 500


class TestForecastProperties:
    @given(
        st.integers(0, 5000),
        st.integers(0, 200),
        st.integers(1, 5000),
        st.integers(0, 3000),
        st.integers(0, 100),
        st.floats(80, 99.9),
    )
    def test_the_interval_holds_the_point_forecast_and_the_outcome_agrees_with_the_needed_rate(
        self, tested: int, failed: int, remaining: int, recent: int, recent_failed: int, target: float
    ) -> None:
        failed, recent_failed = min(failed, tested), min(recent_failed, recent)
        f = year_end_forecast(target, tested, tested - failed, remaining, recent, recent_failed)
        assert 0.0 <= f.probability <= 1.0
        assert f.low <= f.projected <= f.high
        assert f.needed is not None
        if f.outcome is Outcome.LOST:
            assert f.probability == 0.0
            assert f.needed > 100 - 1e-6
        if f.outcome is Outcome.MET:
            assert f.probability == 1.0
            assert f.needed < 1e-6

    @given(st.integers(100, 3000), st.integers(0, 60))
    def test_more_recent_failures_never_raise_the_probability(self, recent: int, recent_failed: int) -> None:
        recent_failed = min(recent_failed, recent - 1)
        fewer = year_end_forecast(98.0, 5000, 4900, 5000, recent, recent_failed)
        more = year_end_forecast(98.0, 5000, 4900, 5000, recent, recent_failed + 1)
        assert more.probability <= fewer.probability + 1e-12
