"""Case deadlines against the official calendar (chinese-calendar): Spring Festival 2026 ran 15-23 February, with
Saturday 14 and Saturday 28 February made working days."""

from __future__ import annotations

from datetime import date

import pytest

from cases.deadlines import StepState, deadlines, step_state
from qsmon.case_rules import load_table
from qsmon.exceptions import ConfigError
from qsmon.workdays import add_working_days, coverage

FOOD = load_table().categories["food"]


def test_five_working_days_across_the_spring_festival_count_its_make_up_saturday() -> None:
    # Opened Thursday 12 Feb: Fri 13, Sat 14 (made a working day), the holiday, then Tue 24, Wed 25, Thu 26.
    assert add_working_days(date(2026, 2, 12), 5) == (date(2026, 2, 26), False)


def test_a_make_up_saturday_after_the_holiday_is_a_working_day() -> None:
    # From Wednesday 25 Feb: Thu 26, Fri 27, Sat 28 (made a working day), Mon 2 March.
    assert add_working_days(date(2026, 2, 25), 4) == (date(2026, 3, 2), False)


def test_counting_back_skips_the_holiday_too() -> None:
    assert add_working_days(date(2026, 2, 24), -1) == (date(2026, 2, 14), False)


def test_past_the_calendar_deadlines_are_provisional_weekdays() -> None:
    last = coverage()[1]
    day, provisional = add_working_days(date(last, 12, 30), 3)
    assert provisional
    assert day.year == last + 1
    assert day.weekday() < 5


def test_the_calendar_refuses_a_year_it_does_not_know() -> None:
    from qsmon.workdays import is_workday

    with pytest.raises(ConfigError, match="upgrade the chinese-calendar package"):
        is_workday(date(coverage()[1] + 1, 6, 1))


def test_food_deadlines_chain_from_the_step_they_count_from() -> None:
    opened = date(2026, 2, 12)
    before = {d.step.id: d for d in deadlines(FOOD, opened, {}, soon_working_days=2)}
    assert before["risk_control"].due_on == opened  # 立即: the same day
    assert before["serve_conclusion"].due_on == date(2026, 2, 26)  # 5 working days (第二十九条)
    assert before["review_window"].due_on is None  # counts from the serving, not done yet
    assert before["verification"].due_on == date(2026, 5, 13)  # 90 calendar days (第四十五条)
    assert before["serve_conclusion"].soon_on == date(2026, 2, 24)  # two working days before
    assert before["risk_control"].soon_on == opened  # never before the case opened
    served = {d.step.id: d for d in deadlines(FOOD, opened, {"serve_conclusion": date(2026, 2, 24)}, 2)}
    assert served["review_window"].due_on == date(2026, 3, 4)  # 7 working days from Tue 24 Feb, Sat 28 counted


def test_a_step_s_state_on_a_given_day() -> None:
    due, soon = date(2026, 2, 25), date(2026, 2, 14)
    assert step_state(None, due, soon, date(2026, 2, 13)) is StepState.OPEN
    assert step_state(None, due, soon, date(2026, 2, 14)) is StepState.DUE_SOON
    assert step_state(None, due, soon, date(2026, 2, 25)) is StepState.DUE_SOON
    assert step_state(None, due, soon, date(2026, 2, 26)) is StepState.OVERDUE
    assert step_state(date(2026, 2, 25), due, soon, date(2026, 3, 1)) is StepState.DONE_ON_TIME
    assert step_state(date(2026, 2, 26), due, soon, date(2026, 3, 1)) is StepState.DONE_LATE
    assert step_state(None, None, None, date(2026, 3, 1)) is StepState.WAITING


def test_every_deadline_names_its_basis_and_every_category_its_source() -> None:
    table = load_table()
    for category, rules in table.categories.items():
        assert table.source_of(category).startswith("《")
        for step in rules.steps:
            assert step.basis.startswith(("第", "本地规定"))


def test_the_readme_shows_the_deadline_table_in_force() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- deadlines:start")[1].split("<!-- deadlines:end -->")[0].split("-->\n", 1)[1].strip()
    generated = subprocess.run(
        [sys.executable, "-m", "cli", "cases", "deadlines"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert shown == generated  # regenerate: qsmon cases deadlines


class TestRecallLevels:
    """《食品召回管理办法》: 一级 24 h / 10 working days, 二级 48 h / 20, 三级 72 h / 30 (start from the case's
    opening, completion from the announcement)."""

    def test_each_level_adds_a_start_and_a_completion_step_with_its_deadlines(self) -> None:
        table = load_table()
        opened, announced = date(2026, 2, 12), date(2026, 2, 13)  # across the 2026 Spring Festival
        # From Fri 13 Feb: Sat 14 (made working), the holiday to 23 Feb, Tue 24 to Fri 27, Sat 28 (made working),
        # then Mon 2 to Thu 5 March: the 10th working day; the 20th and 30th follow Monday to Friday.
        expected = {
            "level_1": (date(2026, 2, 13), date(2026, 3, 5)),
            "level_2": (date(2026, 2, 14), date(2026, 3, 19)),
            "level_3": (date(2026, 2, 15), date(2026, 4, 2)),
        }
        for level, (start, complete) in expected.items():
            rules = table.rules_for("food", level)
            assert rules is not None
            due = {d.step.id: d.due_on for d in deadlines(rules, opened, {"recall_start": announced}, 2)}
            assert (due["recall_start"], due["recall_complete"]) == (start, complete), level

    def test_a_level_is_named_by_id_or_in_chinese_and_none_adds_nothing(self) -> None:
        table = load_table()
        assert table.recall_level("food", "一级") == table.recall_level("food", "一级召回") == "level_1"
        assert table.rules_for("food", "none") == table.for_category("food")
        with pytest.raises(ValueError, match="unknown recall level"):
            table.recall_level("food", "四级")
        with pytest.raises(ValueError, match="no recall levels"):
            table.recall_level("drug", "level_1")

    def test_every_level_cites_its_articles(self) -> None:
        recall = load_table().recall
        assert recall is not None
        assert "食品召回管理办法" in load_table().sources[recall.source]
        for level in recall.levels:
            assert level.start_basis.startswith("第十三条")
            assert level.complete_basis.startswith("第十六条")


def test_a_step_escalates_its_working_days_after_its_due_date() -> None:
    due = {d.step.id: d for d in deadlines(FOOD, date(2026, 2, 12), {}, soon_working_days=2)}
    assert due["risk_control"].escalate_on == date(2026, 2, 13)  # 1 working day overdue
    assert due["serve_conclusion"].escalate_on == date(2026, 3, 2)  # 3 after Thu 26 Feb: Fri 27, Sat 28, Mon 2
    assert due["review_window"].escalate_on is None  # waiting: no due date yet
