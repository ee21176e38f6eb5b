"""The read API's spreadsheets: texts from announcements never run as formulas in Excel."""

from __future__ import annotations


def test_texts_excel_would_run_are_quoted_in_csv() -> None:
    from readapi.formats import csv_safe

    assert csv_safe('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert [csv_safe(v) for v in ("+1", "-2", "@a", "某公司", 3.5)] == ["'+1", "'-2", "'@a", "某公司", 3.5]
