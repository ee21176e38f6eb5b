"""The drift chart (Bernoulli CUSUM) and the multi-window burn-rate rule (indicators.drift)."""

from __future__ import annotations

import numpy as np
import pytest

from indicators.drift import baseline_rates, burns, cusum, drift, threshold
from qsmon.plans.model import DEFAULT_BURN_RULES, BurnRule, Severity


class TestCusum:
    def test_it_stays_at_zero_while_nothing_fails_and_climbs_on_failures(self) -> None:
        tested = np.full(5, 100.0)
        path = cusum(np.array([0.0, 0, 5, 5, 5]), tested, np.full(5, 0.01), 0.005)
        assert path[0] == path[1] == 0.0
        assert path[2] < path[3] < path[4]

    def test_a_failure_weighs_log_p1_over_p0(self) -> None:
        path = cusum(np.array([1.0]), np.array([1.0]), np.array([0.01]), 0.01)
        assert path[0] == pytest.approx(np.log(2.0))

    def test_it_runs_many_series_at_once(self) -> None:
        failed = np.array([[0.0, 0, 0], [3, 3, 3]])
        path = cusum(failed, np.full((2, 3), 100.0), np.full((2, 3), 0.01), 0.005)
        assert path.shape == (2, 3)
        assert path[0, -1] == 0.0 < path[1, -1]


class TestThreshold:
    def test_fewer_false_alarms_need_a_higher_threshold(self) -> None:
        assert threshold(0.011, 0.005, 36000, 0.1) > threshold(0.011, 0.005, 36000, 1.0)

    def test_the_threshold_gives_about_the_stated_false_alarm_rate(self) -> None:
        # 400 simulated clean years of 10,000 batches, 0.2 false alarms a year asked: Siegmund's approximation
        # holds within a factor of two (daily steps only check the chart once a day, so fewer).
        rng = np.random.default_rng(7)
        p0, days, per_day = 0.011, 365, 10000 / 365
        h = threshold(p0, 0.005, 10000, 0.2)
        tested = rng.poisson(per_day, (400, days)).astype(float)
        failed = rng.binomial(tested.astype(int), p0).astype(float)
        alarms = (cusum(failed, tested, np.full((400, days), p0), 0.005) >= h).any(axis=1).mean()
        assert 0.05 < alarms < 0.4

    def test_a_half_point_rise_is_signalled_within_a_season_at_a_citys_volume(self) -> None:
        rng = np.random.default_rng(3)
        h = threshold(0.011, 0.005, 36000, 0.2)
        tested = np.full((200, 120), 100.0)
        failed = rng.binomial(100, 0.016, (200, 120)).astype(float)
        first = np.argmax(cusum(failed, tested, np.full((200, 120), 0.011), 0.005) >= h, axis=1)
        assert np.median(first) < 90


class TestDrift:
    def test_a_sustained_rise_signals_and_a_clean_series_does_not(self) -> None:
        tested = np.full(26, 700.0)
        p0 = np.full(26, 0.011)
        assert drift(np.full(26, 21.0), tested, p0, 0.005, 0.2, seasonal=True).signalled  # 3 % failing
        assert not drift(np.full(26, 7.0), tested, p0, 0.005, 0.2, seasonal=True).signalled  # 1 %

    def test_the_baseline_is_last_years_quarter_around_each_block_or_the_budget(self) -> None:
        failed = np.full(38, 10.0)
        tested = np.full(38, 1000.0)
        # 130 failures of 13,000: 1 %, raised by 1.5 standard errors of that estimate (0.13 points)
        assert baseline_rates(failed, tested, 0.015) == pytest.approx(np.full(26, 0.01 + 1.5 * np.sqrt(0.0099 / 13000)))
        assert baseline_rates(failed / 100, tested / 100, 0.015) == pytest.approx(np.full(26, 0.015))


class TestBurnRule:
    def test_the_fast_rule_fires_only_when_both_windows_burn_above_three_times(self) -> None:
        fast = DEFAULT_BURN_RULES[0]
        # target 98.5 %: 3× the budget is a 4.5 % failure rate
        assert burns([fast], {30: (150, 3000), 7: (40, 700)}, 98.5)[0].firing
        assert not burns([fast], {30: (150, 3000), 7: (10, 700)}, 98.5)[0].firing  # the burst is over
        assert not burns([fast], {30: (60, 3000), 7: (40, 700)}, 98.5)[0].firing  # a burst too short to matter

    def test_a_window_without_batches_never_fires(self) -> None:
        assert not burns([BurnRule(long_days=90, short_days=30, factor=1, severity=Severity.INFO)], {}, 98.5)[0].firing

    def test_a_rule_needs_its_short_window_inside_the_long_one(self) -> None:
        with pytest.raises(ValueError, match="shorter"):
            BurnRule(long_days=7, short_days=30, factor=3, severity=Severity.WARNING)
