"""The report's tables as CSV, UTF-8 with BOM so Excel opens the Chinese correctly."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reports.data import MonthlyReport
from reports.labels import MEASURE_LABELS, target_text, window_label

INDICATOR_HEADER = ["指标", "计量", "本月", "本年累计", "目标", "是否达标", "本月样本", "不合格", "置信区间下限",
                    "置信区间上限", "较上月", "较去年同月"]
FAILURE_HEADER = ["抽样单编号", "抽样日期", "类别", "细类", "样品名称", "地区", "标称生产企业", "被抽样单位",
                  "检验机构", "不合格项目"]
ALERT_HEADER = ["编号", "指标", "地区", "窗口", "级别", "开启时间", "解决时间", "月末状态"]


def _write(path: Path, header: list[str], rows: Iterable[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else (f"{v:.4f}" if isinstance(v, float) else v) for v in row])
    return path


def write_csv(report: MonthlyReport, directory: Path, stem: str) -> list[Path]:
    return [
        _write(directory / f"{stem}-指标完成情况.csv",
               INDICATOR_HEADER,
               ([r.indicator.name, MEASURE_LABELS[r.indicator.measure.value], r.month.value, r.year_to_date.value,
                 target_text(r.indicator), r.met, r.month.samples, r.month.failed, r.month.low, r.month.high,
                 r.change_vs_previous, r.change_vs_last_year] for r in report.indicators)),
        _write(directory / f"{stem}-分类.csv", ["类别", "细类", "检验批次", "合格", "不合格", "合格率"],
               ([c.category, c.subcategory, c.tested, c.passed, c.failed, c.pass_rate] for c in report.categories)),
        _write(directory / f"{stem}-分地区.csv", ["排名", "地区", "指标", "样本", "不合格", "本月", "目标", "差距"],
               ([i + 1, r.region_name, r.indicator.name, r.figure.samples, r.figure.failed, r.figure.value,
                 target_text(r.indicator), r.shortfall] for i, r in enumerate(report.regions))),
        _write(directory / f"{stem}-趋势.csv",
               ["指标", *[f"{y}-{m:02d}" for y, m in report.trend_months]],
               ([r.indicator.name, *[f.value for f in report.trends[r.indicator.id]]] for r in report.indicators)),
        _write(directory / f"{stem}-不合格明细.csv",
               FAILURE_HEADER,
               ([f.sample_id, f.day.isoformat(), f.category, f.subcategory, f.product, f.region, f.manufacturer,
                 f.sampled_unit, f.lab, f.failed_items] for f in report.failures)),
        _write(directory / f"{stem}-告警.csv", ALERT_HEADER,
               ([a.alert_id, a.indicator, a.region, window_label(a.window), a.severity, a.opened_at, a.resolved_at,
                 a.status_at_month_end] for a in report.alerts)),
    ]
