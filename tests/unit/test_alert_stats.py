"""Alert statistics: the Wilson interval against published values, each target operator, trends, windows."""

from __future__ import annotations

from datetime import date

import pytest

from indicators.stats import (
    Interval,
    State,
    mean_interval,
    proportion_drop_z,
    state_against_target,
    state_of_trend,
    wilson,
)
from indicators.windows import DayRange, previous_range, window_range
from qsmon.plans.model import Compare, Op, Period


class TestWilsonInterval:
    @pytest.mark.parametrize(
        ("x", "n", "low", "high"),
        [
            (5, 10, 23.66, 76.34),  # symmetric case
            (0, 10, 0.0, 27.75),  # zero successes: the upper bound is not zero
            (10, 10, 72.25, 100.0),  # all successes: the lower bound is not 100
            (81, 263, 25.53, 36.62),  # Newcombe (1998), Statistics in Medicine 17:857, example (a)
            (15, 148, 6.24, 16.05),  # Newcombe (1998), example (b)
        ],
    )
    def test_matches_published_values(self, x: int, n: int, low: float, high: float) -> None:
        interval = wilson(x, n)
        assert interval.low == pytest.approx(low, abs=0.01)
        assert interval.high == pytest.approx(high, abs=0.01)

    def test_no_samples_says_nothing(self) -> None:
        assert wilson(0, 0) == Interval(0.0, 100.0)

    def test_narrows_as_samples_grow(self) -> None:
        small, large = wilson(97, 100), wilson(9700, 10000)
        assert large.high - large.low < small.high - small.low


class TestTargets:
    def test_below_a_minimum_but_interval_reaching_it_is_a_warning(self) -> None:
        # 97 of 100 pass: below 98 %, but 98 % lies inside the interval.
        interval = wilson(97, 100)
        assert state_against_target(97.0, interval, Op.GE, 98.0) is State.WARNING

    def test_a_shortfall_the_interval_excludes_is_critical(self) -> None:
        interval = wilson(9400, 10000)
        assert state_against_target(94.0, interval, Op.GE, 98.0) is State.CRITICAL

    def test_at_or_above_a_minimum_is_ok(self) -> None:
        assert state_against_target(98.5, wilson(985, 1000), Op.GE, 98.5) is State.OK
        assert state_against_target(98.5, wilson(985, 1000), Op.GT, 98.5) is State.WARNING

    def test_a_maximum_mirrors_the_minimum(self) -> None:
        assert state_against_target(8.0, wilson(8, 100), Op.LT, 10.0) is State.OK
        assert state_against_target(12.0, wilson(12, 100), Op.LT, 10.0) is State.WARNING
        assert state_against_target(30.0, wilson(300, 1000), Op.LE, 10.0) is State.CRITICAL

    def test_a_hundred_percent_target_is_critical_on_the_first_failure(self) -> None:
        assert state_against_target(100.0, wilson(50, 50), Op.EQ, 100.0) is State.OK
        assert state_against_target(99.0, wilson(99, 100), Op.EQ, 100.0) is State.CRITICAL


class TestTrends:
    def test_not_falling_is_ok(self) -> None:
        assert state_of_trend(96.0, 95.0, proportion_drop_z(960, 1000, 950, 1000)) is State.OK

    def test_a_small_drop_is_a_warning_and_a_significant_one_critical(self) -> None:
        assert state_of_trend(94.5, 95.0, proportion_drop_z(945, 1000, 950, 1000)) is State.WARNING
        assert state_of_trend(90.0, 95.0, proportion_drop_z(900, 1000, 950, 1000)) is State.CRITICAL

    def test_mean_interval_uses_the_spread(self) -> None:
        tight = mean_interval(total=850.0, sum_squares=850.0 * 85 + 10, n=10)
        assert 84 < tight.low < 85 < tight.high < 86


class TestWindows:
    PERIOD = Period(start=date(2024, 1, 1), end=date(2025, 12, 31))

    @pytest.mark.parametrize(
        ("window", "first", "last"),
        [
            ("rolling_30d", date(2025, 4, 17), date(2025, 5, 16)),
            ("month_to_date", date(2025, 5, 1), date(2025, 5, 16)),
            ("quarter_to_date", date(2025, 4, 1), date(2025, 5, 16)),
            ("year_to_date", date(2025, 1, 1), date(2025, 5, 16)),
            ("plan_period", date(2024, 1, 1), date(2025, 5, 16)),
        ],
    )
    def test_each_window_covers_its_days(self, window: str, first: date, last: date) -> None:
        assert window_range(window, date(2025, 5, 16), self.PERIOD) == DayRange(first, last)

    @pytest.mark.parametrize(
        ("today", "window", "first", "last"),
        [
            (date(2028, 2, 29), "month_to_date", date(2028, 2, 1), date(2028, 2, 29)),  # a leap day
            (date(2028, 2, 29), "rolling_30d", date(2028, 1, 31), date(2028, 2, 29)),
            (date(2028, 2, 29), "quarter_to_date", date(2028, 1, 1), date(2028, 2, 29)),
            (date(2026, 12, 31), "year_to_date", date(2026, 1, 1), date(2026, 12, 31)),  # New Year's Eve
            (date(2026, 12, 31), "quarter_to_date", date(2026, 10, 1), date(2026, 12, 31)),
            (date(2027, 1, 1), "year_to_date", date(2027, 1, 1), date(2027, 1, 1)),  # New Year's Day
            (date(2027, 1, 1), "rolling_30d", date(2026, 12, 3), date(2027, 1, 1)),
            (date(2026, 11, 30), "month_to_date", date(2026, 11, 1), date(2026, 11, 30)),  # a month end
            (date(2026, 11, 30), "quarter_to_date", date(2026, 10, 1), date(2026, 11, 30)),
        ],
    )
    def test_windows_at_month_ends_leap_days_and_the_turn_of_the_year(
        self, today: date, window: str, first: date, last: date
    ) -> None:
        period = Period(start=date(2020, 1, 1), end=date(2030, 12, 31))
        assert window_range(window, today, period) == DayRange(first, last)

    def test_the_plan_period_ends_with_the_plan(self) -> None:
        assert window_range("plan_period", date(2026, 3, 1), self.PERIOD) == DayRange(
            date(2024, 1, 1), date(2025, 12, 31)
        )
        assert window_range("plan_period", date(2023, 3, 1), self.PERIOD) is None

    @pytest.mark.parametrize(
        ("window", "current", "previous"),
        [
            # The last day of a month, quarter or year compares with the whole previous one, never overlapping it.
            ("month_to_date", (date(2025, 3, 1), date(2025, 3, 31)), (date(2025, 2, 1), date(2025, 2, 28))),
            ("month_to_date", (date(2024, 3, 1), date(2024, 3, 31)), (date(2024, 2, 1), date(2024, 2, 29))),
            ("month_to_date", (date(2025, 3, 1), date(2025, 3, 16)), (date(2025, 2, 1), date(2025, 2, 16))),
            ("quarter_to_date", (date(2025, 4, 1), date(2025, 6, 30)), (date(2025, 1, 1), date(2025, 3, 31))),
            ("quarter_to_date", (date(2025, 1, 1), date(2025, 3, 31)), (date(2024, 10, 1), date(2024, 12, 31))),
            ("year_to_date", (date(2024, 1, 1), date(2024, 12, 31)), (date(2023, 1, 1), date(2023, 12, 31))),
            ("year_to_date", (date(2025, 1, 1), date(2025, 12, 31)), (date(2024, 1, 1), date(2024, 12, 31))),
            ("year_to_date", (date(2025, 1, 1), date(2025, 1, 1)), (date(2024, 1, 1), date(2024, 1, 1))),
        ],
    )
    def test_increasing_at_period_ends_stays_inside_the_previous_period(
        self, window: str, current: tuple[date, date], previous: tuple[date, date]
    ) -> None:
        assert previous_range(window, DayRange(*current)) == DayRange(*previous)

    def test_year_on_year_compares_the_same_dates_a_year_earlier(self) -> None:
        assert previous_range(
            "month_to_date", DayRange(date(2028, 2, 1), date(2028, 2, 29)), Compare.YEAR_ON_YEAR
        ) == DayRange(date(2027, 2, 1), date(2027, 2, 28))
        assert previous_range(
            "rolling_30d", DayRange(date(2026, 11, 1), date(2026, 11, 30)), Compare.YEAR_ON_YEAR
        ) == DayRange(date(2025, 11, 1), date(2025, 11, 30))

    def test_increasing_compares_with_the_same_span_one_period_earlier(self) -> None:
        current = DayRange(date(2025, 4, 1), date(2025, 5, 16))
        assert previous_range("quarter_to_date", current) == DayRange(date(2025, 1, 1), date(2025, 2, 15))
        # Equal length, as the plans' 不断提高 is judged: 136 days, so 2024 (a leap year) ends on 15 May.
        assert previous_range("year_to_date", DayRange(date(2025, 1, 1), date(2025, 5, 16))) == DayRange(
            date(2024, 1, 1), date(2024, 5, 15)
        )
        assert previous_range("rolling_30d", DayRange(date(2025, 4, 17), date(2025, 5, 16))) == DayRange(
            date(2025, 3, 18), date(2025, 4, 16)
        )
