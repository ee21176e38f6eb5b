"""Chinese labels shared by the workbook, the PDF and the CSV files."""

from __future__ import annotations

from alerts.payload import MEASURE_LABELS, window_label
from qsmon.plans.model import Indicator, Measure

OPS = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "=", "increasing": "不断提高"}

__all__ = ["MEASURE_LABELS", "OPS", "is_percent", "target_text", "window_label"]


def is_percent(indicator: Indicator) -> bool:
    return indicator.measure is not Measure.MEAN_SCORE


def target_text(indicator: Indicator) -> str:
    op = indicator.target.op.value
    if op == "increasing":
        return "不断提高(不低于上期)"
    unit = "%" if is_percent(indicator) else "分"
    return f"{OPS[op]} {indicator.target.value:g}{unit}"
