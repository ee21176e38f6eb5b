"""The working-day calendar the bureau can extend: the workdays file read beside the chinese-calendar package, its
checks, and the warning from 1 November when next year is missing. The 2027 file is a test fixture
(tests/fixtures/workdays-2027-fixture.yaml), not the published arrangement."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from cases.metrics import calendar_metrics
from qsmon.case_rules import load_table
from qsmon.case_steps import deadlines
from qsmon.exceptions import ConfigError
from qsmon.workdays import Calendar, load_calendar

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "examples" / "workdays.yaml"
FIXTURE_2027 = ROOT / "tests" / "fixtures" / "workdays-2027-fixture.yaml"
FOOD = load_table().categories["food"]
PACKAGE_ONLY = Calendar(package_years=(2004, 2026))  # as chinese-calendar 1.11.0 ships, whatever is installed


class TestTheWorkdaysFile:
    def test_the_example_s_2026_agrees_with_the_package_day_by_day(self) -> None:
        calendar = load_calendar(EXAMPLE)
        day = date(2026, 1, 1)
        while day.year == 2026:
            assert calendar.is_workday(day) == chinese_calendar.is_workday(day), day
            day += timedelta(days=1)

    def test_a_year_in_the_file_is_known_with_its_notice_as_source(self) -> None:
        calendar = Calendar(load_calendar(FIXTURE_2027).arrangements, path=FIXTURE_2027, package_years=(2004, 2026))
        assert calendar.known(2027)
        assert calendar.last_year == 2027
        [known] = [k for k in calendar.known_years() if k.year == 2027]
        assert "测试用2027年部分节假日安排" in known.source
        assert "2026-11-05" in known.source
        assert not calendar.is_workday(date(2027, 2, 8))  # a Monday of the Spring Festival
        assert calendar.is_workday(date(2027, 2, 14))  # the make-up Sunday

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            (
                "years: {2027: {notice: x, published_on: 2026-11-05, holidays: [{name: 春节, from: 2027-02-05,"
                " to: 2027-02-13}], workdays: [{name: 春节, day: 2027-02-15}]}}",
                "is not a weekend day",
            ),
            (
                "years: {2027: {notice: x, published_on: 2026-11-05, holidays: [{name: 元旦, from: 2026-12-31,"
                " to: 2027-01-02}]}}",
                "is not in 2027",
            ),
            (
                "years: {2027: {notice: x, published_on: 2026-11-05, holidays: [{name: 春节, from: 2027-02-13,"
                " to: 2027-02-05}]}}",
                "before it starts",
            ),
            (
                "years: {2027: {published_on: 2026-11-05, holidays: [{name: 春节, from: 2027-02-05, to: 2027-02-13}]}}",
                "notice",
            ),
            ("years: [2027", "not YAML"),
        ],
    )
    def test_a_malformed_file_is_refused_with_the_reason(self, tmp_path: Path, text: str, reason: str) -> None:
        path = tmp_path / "workdays.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=reason):
            load_calendar(path)


class TestDeadlinesAcrossTheSpringFestival:
    def test_the_2027_file_moves_a_deadline_that_crosses_the_festival_and_makes_it_final(self) -> None:
        with_file = Calendar(load_calendar(FIXTURE_2027).arrangements, package_years=(2004, 2026))
        served = {"serve_conclusion": date(2027, 2, 3)}  # a Wednesday, two days before the (fixture's) holiday
        before = {d.step.id: d for d in deadlines(FOOD, date(2027, 2, 1), served, 2, PACKAGE_ONLY)}
        after = {d.step.id: d for d in deadlines(FOOD, date(2027, 2, 1), served, 2, with_file)}
        # 7 working days: Monday to Friday without the file; Thu 4, Sun 14 (made working), 15-19 with it.
        assert (before["review_window"].due_on, before["review_window"].provisional) == (date(2027, 2, 12), True)
        assert (after["review_window"].due_on, after["review_window"].provisional) == (date(2027, 2, 19), False)


class TestNextYearMissing:
    def test_from_1_november_next_year_missing_is_a_warning_and_a_metric(self) -> None:
        assert PACKAGE_ONLY.warning(date(2026, 10, 31)) is None
        warning = PACKAGE_ONLY.warning(date(2026, 11, 1))
        assert warning is not None
        assert "lacks 2027" in warning
        assert "QSMON_WORKDAYS_FILE" in warning
        values = {m.name: m.samples[0].value for m in calendar_metrics(PACKAGE_ONLY, date(2026, 11, 1))}
        assert values == {"qsmon_workdays_next_year_missing": 1.0, "qsmon_workdays_last_year": 2026.0}

    def test_with_next_year_in_the_file_there_is_no_warning(self) -> None:
        calendar = Calendar(load_calendar(FIXTURE_2027).arrangements, package_years=(2004, 2026))
        assert calendar.warning(date(2026, 12, 6)) is None
        values = {m.name: m.samples[0].value for m in calendar_metrics(calendar, date(2026, 12, 6))}
        assert values["qsmon_workdays_next_year_missing"] == 0.0

    def test_a_year_missing_altogether_is_a_warning_all_year(self) -> None:
        assert PACKAGE_ONLY.missing(date(2027, 3, 1)) == [2027]
