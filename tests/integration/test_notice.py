"""The public notice (信息公告, issue #38) on the real stack: a month with failures of every food problem type,
rendered as the bureau publishes it and read back from the PDF's text as a reader (and poppler) sees it."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from indicators.problem_types import problem_types
from qsmon.food_classes import food_classes
from qsmon.plans import load_plan_text
from qsmon.schema import FailedItem
from qsmon.settings import Settings
from reports.published import PUBLISHED_COLUMNS
from reports.run import write_report
from tests.factories import result
from tests.workers import DirectWriter

pytestmark = pytest.mark.integration

PLAN = load_plan_text("""\
id: notice-test
title: 测试市质量强市
issuer: 测试
jurisdiction: {name: 荆州市, region_code: "421000"}
period: {start: 2024-01-01, end: 2099-12-31}
indicators:
  - id: food-pass
    name: 食品安全评价性抽检合格率
    source: 食品安全评价性抽检合格率
    measure: pass_rate
    filter: {categories: [food], sampling_types: [evaluative]}
    target: {op: ">=", value: 98.5}
    windows: [month_to_date]
""")
MARCH = datetime(2026, 3, 10, 2, tzinfo=UTC)
CLASSES = ["粮食加工品", "饮料", "糕点", "蔬菜制品", "水产制品", "食用农产品"]
# Anything the public must not read: internal tables, settings, file names, placeholders.
INTERNAL = (
    "QSMON_",
    ".yaml",
    "qsmon",
    "由工作人员填写",
    "暂无解析",
    "参照数据",
    "问题发现率",
    "风险监测",
    "月末超期",
    "目标",
    "样本不足",
    "告警",
    "下一步工作",
    "合格率为9",
)
CHINESE = r"[\u4e00-\u9fff]"


def _failing_items() -> list[FailedItem]:
    """One failed item of every food problem type, the first term each type lists."""
    return [
        FailedItem(item=t.terms[0], measured="1.2", limit="≤0.5" if i % 2 else "不得检出", unit="mg/kg")
        for i, t in enumerate(problem_types().types)
        if "food" in t.categories
    ]


@pytest.fixture
def written(settings: Settings, tmp_path: Path) -> list[Path]:
    items = _failing_items()
    results: list[Any] = []
    for i in range(260):  # enough failures for the annex to run over several landscape pages
        failing = i < 60
        results.append(
            result(
                f"N-{i}",
                at=MARCH + timedelta(minutes=i),
                verdict="fail" if failing else "pass",
                subcategory=CLASSES[i % len(CLASSES)],
                sampling_type="evaluative" if i % 3 else "supervisory",
                failed_items=(items[i % len(items)],) if failing else (),
                product=f"产品{i}",
                manufacturer=f"某食品有限公司{i % 7}" if i % 5 else None,
                manufacturer_address=None,
                sampled_unit=f"某超市{i % 4}",
                brand=None,
                batch="2026-03-01" if i % 2 else None,
                announcement_no="2026年第3期",
            )
        )
    results += [
        result(
            f"R-{i}",
            at=MARCH,
            verdict="fail",
            sampling_type="risk_monitoring",
            subcategory="水产制品",
            failed_items=(items[0],),
            manufacturer="仅风险监测企业",
        )
        for i in range(5)
    ]
    writer = DirectWriter(settings)
    try:
        writer.store_results(results)
    finally:
        writer.close()
    named = settings.model_copy(
        update={"bureau_name": "荆州市市场监督管理局", "notice_number": "〔{year}〕第{month}期"}
    )
    return write_report(named, PLAN, 2026, 3, tmp_path, ["pdf", "xlsx"])


def _text(pdf: Path, *pages: int) -> tuple[str, str]:
    args = ["pdftotext", "-layout", *(["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []), str(pdf), "-"]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return done.stdout, done.stderr


class TestThePublicNotice:
    def test_it_reads_as_a_notice_and_says_nothing_internal(self, written: list[Path]) -> None:
        pdf = next(p for p in written if p.name.endswith("信息公告.pdf"))
        text, warnings = _text(pdf)
        assert warnings == ""  # poppler reads every page without a warning (fonts embedded as declared)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        # The title block: bureau, number from the setting's pattern, title, signature and date.
        assert lines[0] == "荆州市市场监督管理局"
        assert lines[1] == "（〔2026〕第3期）"
        assert "".join(lines[2:4]) == "荆州市市场监督管理局关于2026年3月食品安全抽检情况的通告"
        assert "荆州市市场监督管理局" in lines
        assert any(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", line) for line in lines)
        # Contents real notices carry.
        for words in (
            "抽检依据",
            "GB 2760",
            "GB 2763",
            "任一项目不符合",
            "下架、召回",
            "立案查处",
            "占抽检不合格样品总量",
            "消费提示",
            "风险解析",
            "附件：",
        ):
            assert words in text.replace("\n", ""), words
        # Punctuation: no ASCII comma or bracket beside Chinese, no line starting with closing punctuation.
        assert not re.search(f"{CHINESE}[,()]|[,()]{CHINESE}", text)
        assert not [line for line in lines if line[0] in "）。，、；：》"]
        for word in INTERNAL:
            assert word not in text, word
        assert "仅风险监测企业" not in text  # no firm named on risk monitoring

    def test_the_annex_is_landscape_with_its_header_on_every_page(self, written: list[Path]) -> None:
        pdf = next(p for p in written if p.name.endswith("信息公告.pdf"))
        info = subprocess.run(
            ["pdfinfo", "-f", "1", "-l", "99", str(pdf)], capture_output=True, text=True, check=True
        ).stdout
        sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)
        portrait = [i for i, (w, h) in enumerate(sizes, 1) if float(w) < float(h)]
        landscape = [i for i, (w, h) in enumerate(sizes, 1) if float(w) > float(h)]
        assert portrait
        assert len(landscape) >= 2
        assert min(landscape) > max(portrait)
        for page in landscape:  # the header row on every page of the annex
            text, _ = _text(pdf, page)
            assert text.count("商标") == text.count("检验机构") == 1, page
        first, _ = _text(pdf, landscape[0])
        assert "声明：以下信息仅指本次抽检标称的生产企业相关产品的生产日期/批号和所检项目。" in first.replace(" ", "")
        assert " / " in first  # empty cells say so
        assert "不得检出mg/kg" not in first  # a qualitative limit takes no unit
        assert "≤0.5mg" in first

    def test_the_annex_workbook_is_laid_out_as_published(self, written: list[Path]) -> None:
        book = openpyxl.load_workbook(next(p for p in written if p.name.endswith("不合格产品信息.xlsx")))
        sheet = book["不合格产品信息"]
        rows = list(sheet.iter_rows(values_only=True))
        assert str(rows[1][0]).startswith("声明：以下信息仅指本次抽检标称的生产企业")
        assert tuple(rows[2]) == PUBLISHED_COLUMNS
        body = rows[3:]
        assert len(body) == 60
        assert all(cell is not None for row in body for cell in row)  # "/" where there is nothing to say
        assert "/" in {row[1] for row in body}  # the failures without a named maker
        assert sheet.page_setup.orientation == "landscape"
        assert sheet.print_title_rows == "$3:$3"
        order = {c.name: c.order for c in food_classes().classes}  # the 细则's numbering of 大类
        classes = [row[PUBLISHED_COLUMNS.index("分类")] for row in body]
        assert classes == sorted(classes, key=lambda name: order[str(name)])
        assert len(set(classes)) == len(CLASSES)
        assert [row[0] for row in body] == list(range(1, 61))
