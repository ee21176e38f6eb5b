"""数据完整性: a month whose data stops early or falls far below its usual volume is said to be incomplete."""

from __future__ import annotations

from datetime import date

import pytest

from qsmon.completeness import ENDS_EARLY_DAYS, MIN_USUAL, judge, month_last_day, reasons

AFTER = date(2021, 2, 1)  # December 2020 judged once it is over


class TestReasons:
    def test_a_scrape_ending_on_the_fourth_is_an_incomplete_december(self) -> None:
        december = judge(date(2020, 12, 1), {date(2020, 12, 1): 5, date(2020, 12, 4): 7}, [400] * 11, AFTER)
        assert december.reasons == ("ends_early", "low_volume")
        assert (december.last_day, december.tested, december.usual) == (date(2020, 12, 4), 12, 400.0)
        note = december.note()
        assert note is not None
        assert note.startswith("数据完整性：2020年12月数据提前截止、数据量远低于往月，数据截至12月4日，共12批次")

    def test_the_note_without_counts_names_no_batches(self) -> None:
        december = judge(date(2020, 12, 1), {date(2020, 12, 4): 12}, [400] * 11, AFTER)
        assert december.note(counts=False) == (
            "数据完整性：2020年12月数据提前截止、数据量远低于往月，数据截至12月4日，"
            "合格率等指标可能不反映全月情况，请谨慎解读。"
        )

    def test_a_usual_month_is_complete_and_says_nothing(self) -> None:
        days = {date(2020, 11, d): 14 for d in range(1, 31)}
        november = judge(date(2020, 11, 1), days, [400] * 12, AFTER)
        assert (november.incomplete, november.note()) == (False, None)

    def test_the_month_in_progress_is_incomplete(self) -> None:
        assert reasons(date(2020, 12, 1), 300, date(2020, 12, 20), 400, date(2020, 12, 31)) == ("in_progress",)

    def test_a_month_without_data_after_months_with_it(self) -> None:
        assert reasons(date(2020, 12, 1), 0, None, 400, AFTER) == ("no_data",)

    @pytest.mark.parametrize(
        ("last_day", "expected"),
        [(date(2020, 12, 31 - ENDS_EARLY_DAYS), ("ends_early",)), (date(2020, 12, 32 - ENDS_EARLY_DAYS), ())],
    )
    def test_ending_early_is_counted_from_the_months_last_day(self, last_day: date, expected: tuple[str, ...]) -> None:
        assert reasons(date(2020, 12, 1), 400, last_day, 400, AFTER) == expected

    def test_a_small_place_has_no_usual_day_to_miss(self) -> None:
        # Three results a month, the last on the 10th: nothing to say.
        assert reasons(date(2020, 12, 1), 1, date(2020, 12, 10), MIN_USUAL - 1, AFTER) == ()
        assert reasons(date(2020, 12, 1), 0, None, None, AFTER) == ()  # and a place that never had data

    def test_the_usual_volume_is_the_median_of_the_last_twelve_months_with_data(self) -> None:
        month = judge(date(2020, 12, 1), {date(2020, 12, 28): 150}, [0, 5000, *[100] * 6, *[400] * 7], AFTER)
        assert month.usual == 400.0  # the oldest of the 14 with data fall out; zero months never count
        assert month.reasons == ("low_volume",)

    def test_month_ends(self) -> None:
        assert [month_last_day(date(2020, m, 1)).day for m in (1, 2, 4, 12)] == [31, 29, 30, 31]
