"""The two spreadsheet bombs of issue #31, built here: refused within 5 s and 200 MB, the rejects file small;
and the limits that refuse them, each with a clear error naming the file and where."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from producers.exceptions import ImportFormatError
from producers.importers import import_files
from producers.importers.base import MAX_RAW, Rejection

HEADER = [
    "序号",
    "标称生产企业名称",
    "被抽样单位名称",
    "被抽样单位所在省份",
    "食品名称",
    "公告日期",
    "任务来源/项目名称",
]
SHEET = "xl/worksheets/sheet1.xml"


def _rewrite(path: Path, edit: dict[str, str | Callable[[str], str]]) -> Path:
    """The workbook with some of its parts' XML edited (functions of the old text) or replaced."""
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name).decode() for name in source.namelist()}
    for name, change in edit.items():
        parts[name] = change(parts.get(name, "")) if callable(change) else change
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, text in parts.items():
            target.writestr(name, text)
    return path


def _table(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "食品安全监督抽检合格产品信息"
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def merged_bomb(path: Path, last_row: int = 200_000) -> Path:
    """A 2 KB workbook: one value in A2, merged across A2:XFD<last_row>, and the sheet's last row at <last_row>."""
    _table(path, [["铜梁县"]])

    def merge(xml: str) -> str:
        xml = xml.replace(
            "</sheetData>",
            f'<row r="{last_row}"/></sheetData><mergeCells count="1"><mergeCell ref="A2:XFD{last_row}"/></mergeCells>',
        )
        return re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:XFD{last_row}"/>', xml)

    return _rewrite(path, {SHEET: merge})


def text_bomb(path: Path, rows: int = 3) -> Path:
    """A small workbook: one 32,000-character shared string in every one of 16,384 cells of a few rows."""
    _table(path, [])
    strings = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
        f"<si><t>{'样' * 32_000}</t></si></sst>"
    )
    content_type = (
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" /></Types>'
    )
    body = "".join(
        f'<row r="{r}">'
        + "".join(f'<c r="{get_column_letter(c)}{r}" t="s"><v>0</v></c>' for c in range(1, 16_385))
        + "</row>"
        for r in range(2, rows + 2)
    )
    return _rewrite(
        path,
        {
            "xl/sharedStrings.xml": strings,
            "[Content_Types].xml": lambda xml: xml.replace("</Types>", content_type),
            SHEET: lambda xml: xml.replace("</sheetData>", body + "</sheetData>"),
        },
    )


_MEASURE = """
import json, resource, sys, time
from pathlib import Path
from producers.exceptions import ImportFormatError
from producers.importers import import_files
from qsmon.addresses import place
place("重庆市铜梁县")  # the place tables loaded before measuring: they are the import's, not the bomb's
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.monotonic()
error = None
try:
    summary = import_files([Path(sys.argv[1])], fmt=None, sink=None, rejects_path=Path(sys.argv[2]))
except ImportFormatError as exc:
    error = str(exc)
print(json.dumps({"seconds": time.monotonic() - started, "error": error,
                  "grew_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}))
"""


def _import_measured(path: Path, rejects: Path) -> dict[str, object]:
    """Import ``path`` in a process of its own (so its peak memory is the import's) and say what it cost."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), str(rejects)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


class TestBombsOfIssue31:
    def test_a_merged_range_to_xfd200000_is_refused_at_once(self, tmp_path: Path) -> None:
        bomb = merged_bomb(tmp_path / "merged.xlsx")
        assert bomb.stat().st_size < 8_000
        rejects = tmp_path / "rejects.csv"
        cost = _import_measured(bomb, rejects)
        assert "A2:XFD200000" in str(cost["error"]), cost
        assert float(str(cost["seconds"])) < 5
        assert float(str(cost["grew_mb"])) < 200
        assert not rejects.exists() or rejects.stat().st_size < 10_000

    def test_a_32000_character_string_in_16384_cells_is_refused_at_once(self, tmp_path: Path) -> None:
        bomb = text_bomb(tmp_path / "text.xlsx")
        assert bomb.stat().st_size < 200_000
        cost = _import_measured(bomb, tmp_path / "rejects.csv")
        assert "16,384 filled cells" in str(cost["error"]), cost
        assert float(str(cost["seconds"])) < 5
        assert float(str(cost["grew_mb"])) < 200


class TestLimits:
    def test_a_merged_range_within_a_sheets_rows_is_clipped_to_the_header_and_its_rows_are_not_rows(
        self, tmp_path: Path
    ) -> None:
        bomb = merged_bomb(tmp_path / "merged.xlsx", last_row=90_000)
        rejects = tmp_path / "rejects.csv"
        summary = import_files([bomb], fmt=None, sink=None, rejects_path=rejects)
        # Row 2 has a value of its own (rejected: no date); rows 3-90000 only the merged range reaches.
        assert (summary.rows_read, summary.rejected, [r.row for r in summary.rejections]) == (1, 1, [2])
        assert len(summary.rejections[0].raw.split(" | ")) == len(HEADER)  # clipped to the header's width
        assert rejects.stat().st_size < 2_000

    def test_a_rejected_rows_raw_text_is_cut_to_about_a_kilobyte(self, tmp_path: Path) -> None:
        path = _table(tmp_path / "long.xlsx", [[1, "某厂", "某店", "湖北", "腐竹" + "长" * 5_000, "不是日期", "省抽"]])
        summary = import_files([path], fmt=None, sink=None)
        (rejection,) = summary.rejections
        assert "公告日期" in rejection.reason
        assert len(rejection.raw) == MAX_RAW
        assert rejection.raw.endswith("…")
        assert len(Rejection("f", None, 1, "r", "x" * 10).raw) == 10  # a short one stays whole

    def test_the_summary_keeps_the_count_and_the_first_rejections(self, tmp_path: Path) -> None:
        bad = [[n, "某厂", "某店", "湖北", "腐竹", "不是日期", "省抽"] for n in range(300)]
        path = _table(tmp_path / "bad.xlsx", bad)
        rejects = tmp_path / "rejects.csv"
        summary = import_files([path], fmt=None, sink=None, rejects_path=rejects)
        assert (summary.rejected, len(summary.rejections)) == (300, 50)
        assert len(rejects.read_text(encoding="utf-8-sig").splitlines()) == 301  # every one in the file

    def test_text_past_the_files_budget_refuses_it_naming_where(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from producers.importers import base

        monkeypatch.setattr(base, "MAX_TEXT_PER_FILE", 2_000)
        monkeypatch.setattr(base.TextBudget.__init__, "__defaults__", (2_000,))
        path = _table(
            tmp_path / "wordy.xlsx", [[n, "某厂" * 50, "某店", "湖北", "腐竹", "2026-03-02", "省抽"] for n in range(40)]
        )
        with pytest.raises(ImportFormatError, match="characters of text"):
            import_files([path], fmt=None, sink=None)

    def test_a_sheet_past_its_rows_refuses_the_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from producers.importers import samr

        monkeypatch.setattr(samr, "MAX_ROWS_PER_SHEET", 20)
        path = _table(
            tmp_path / "long.xlsx", [[n, "某厂", "某店", "湖北", "腐竹", "2026-03-02", "省抽"] for n in range(30)]
        )
        with pytest.raises(ImportFormatError, match="rows in sheet"):
            import_files([path], fmt=None, sink=None)

    def test_blank_rows_down_to_excels_last_row_are_no_rows(self, tmp_path: Path) -> None:
        path = _table(tmp_path / "stray.xlsx", [[1, "某厂", "某店", "湖北", "腐竹", "2026-03-02", "省抽"]])
        path = _rewrite(path, {SHEET: lambda xml: xml.replace("</sheetData>", '<row r="1048576"/></sheetData>')})
        import_files([path], fmt=None, sink=None)  # once to load the place tables, which are not the sheet's cost
        started = time.monotonic()
        summary = import_files([path], fmt=None, sink=None)
        assert (summary.rows_read, summary.valid) == (1, 1)
        assert time.monotonic() - started < 5  # a million gap rows cost next to nothing
