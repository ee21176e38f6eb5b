"""Hostile names come out inert in every format (issue #31): robots' Markdown, the report's PDF, CSV and xlsx, the
import's rejects file and the read API's CSV. The strings are the ones an attacker used."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from qsmon.escaping import markdown_text, spreadsheet_text
from qsmon.schema import FailedItem, InspectionResult
from qsmon.settings import Settings
from reports.run import write_report
from tests.factories import ALERT_PAYLOAD, alert_message, result
from tests.integration.test_reports import PLAN
from tests.workers import DirectWriter

pytestmark = pytest.mark.integration

FIRM_LINK = "[点此查看处置通知](http://evil.example/phish)"
ITEM_LINK = "[登录核查系统](http://evil.example/login)"
ITEM_MATH = "$\\y$"
FORMULA = '=HYPERLINK("http://evil.example","点击")'
MARCH = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def hostile_failures() -> list[InspectionResult]:
    items = (
        FailedItem(item=ITEM_MATH, measured="0.5", limit="≤0.1"),
        FailedItem(item=ITEM_LINK),
        FailedItem(item=FORMULA),
    )
    return [
        result(
            f"EVIL-{i}",
            verdict="fail",
            at=MARCH,
            category="agricultural",
            sampling_type="routine_monitoring",
            region="421083",
            subcategory="蔬菜",
            product=FORMULA,
            manufacturer=FORMULA if i % 2 else FIRM_LINK,
            sampled_unit=FORMULA,
            lab=FORMULA,
            failed_items=items,
        )
        for i in range(4)
    ]


def csv_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [cell for row in csv.reader(f) for cell in row]


class TestRobots:
    def test_names_and_items_are_no_links_in_a_robots_markdown(self) -> None:
        payload = json.loads(json.dumps(ALERT_PAYLOAD))
        payload |= {
            "top_failed_firms": [[FIRM_LINK, 3]],
            "top_failed_items": [[ITEM_LINK, 2], [ITEM_MATH, 1]],
            "subcategory": "**蔬菜**](http://evil.example)",
        }
        markdown = alert_message(payload).markdown
        assert "evil.example" in markdown  # the words stay readable
        assert "](http" not in markdown.replace(f"]({ALERT_PAYLOAD['dashboard_url']})", "")
        assert "[点此" not in markdown
        assert "http://evil" not in markdown
        assert markdown.count("](") == 1  # the dashboard link, ours

    def test_a_reports_summary_names_firms_as_plain_words(self) -> None:
        from reports.announce import report_message

        message = report_message("2026年3月报告", f"多次不合格的是{FIRM_LINK}(沙市区,3批次)\n下一步工作", [])
        assert "](http" not in message.markdown
        assert "下一步工作" in message.markdown.splitlines()  # its lines kept

    def test_the_markdown_rule_keeps_text_on_one_line(self) -> None:
        assert "\n" not in markdown_text("企业\n### 标题")
        assert markdown_text("洪湖市 · 蔬菜") == "洪湖市 · 蔬菜"


class TestFiles:
    def test_the_report_renders_and_escapes_every_hostile_string(self, settings: Settings, tmp_path: Path) -> None:
        writer = DirectWriter(settings)
        try:
            writer.store_results(hostile_failures())
        finally:
            writer.close()
        files = write_report(settings, PLAN, 2026, 3, tmp_path, ["xlsx", "csv", "pdf"])
        pdf = next(p for p in files if p.suffix == ".pdf")
        assert pdf.stat().st_size > 10_000  # drawn, $\y$ included, not refused as mathtext
        csvs = [p for p in files if p.suffix == ".csv"]
        detail = next(p for p in csvs if "不合格明细" in p.name)
        cells = [c for p in csvs for c in csv_cells(p)]
        assert "'" + FORMULA in csv_cells(detail)
        assert any("多次不合格企业" in p.name and "'" + FORMULA in csv_cells(p) for p in csvs)
        assert not [c for c in cells if c.startswith(("=", "+", "@"))]
        for workbook in (p for p in files if p.suffix == ".xlsx"):
            book = openpyxl.load_workbook(workbook)
            formulas = [
                cell.coordinate
                for sheet in book.worksheets
                for row in sheet.iter_rows()
                for cell in row
                if cell.data_type == "f"
            ]
            assert formulas == [], workbook.name
            texts = [
                cell.value
                for sheet in book.worksheets
                for row in sheet.iter_rows()
                for cell in row
                if isinstance(cell.value, str)
            ]
            assert any(FORMULA in t for t in texts)  # kept as text

    def test_the_rejects_file_quotes_formulas(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from producers.importers import import_files

        monkeypatch.chdir(tmp_path)
        rows = Path("=HYPERLINK(1).ndjson")  # a file named by whoever sent it: the rejects' first column
        bad = result("R-1").model_dump(mode="json") | {"product": FORMULA, "verdict": "maybe"}
        rows.write_text(json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
        rejects = tmp_path / "rejects.csv"
        import_files([rows], fmt="ndjson", sink=None, rejects_path=rejects)
        cells = csv_cells(rejects)
        assert cells[5] == "'=HYPERLINK(1).ndjson"
        assert all(not c.startswith(("=", "+", "-", "@")) for c in cells)


def test_the_read_apis_csv_uses_the_same_rule() -> None:
    from readapi.formats import csv_safe

    assert csv_safe is spreadsheet_text
    assert spreadsheet_text(FORMULA) == "'" + FORMULA
    assert spreadsheet_text("-1+2") == "'-1+2"
    assert spreadsheet_text(-3.5) == -3.5  # numbers stay numbers
    out = io.StringIO()
    csv.writer(out).writerow([spreadsheet_text("@SUM(A1)")])
    assert out.getvalue().startswith("'@")
