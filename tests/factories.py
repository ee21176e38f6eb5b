"""Builders of test data shared by the test modules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from qsmon.schema import FailedItem, InspectionResult
from qsmon.vocab import Category, SamplingType, Stage, Verdict

BASE_TIME = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def result(sample_id: str, *, revision: int = 1, verdict: str = "pass", at: datetime = BASE_TIME,
           category: str = "food", sampling_type: str = "evaluative", region: str = "421003",
           subcategory: str | None = "蔬菜", **extra: Any) -> InspectionResult:
    failed = (FailedItem(item="毒死蜱", measured="0.12", limit="≤0.02", unit="mg/kg"),) if verdict == "fail" else ()
    fields: dict[str, Any] = {
        "sample_id": sample_id, "revision": revision, "sampled_at": at, "reported_at": at + timedelta(days=5),
        "category": Category(category), "subcategory": subcategory, "sampling_type": SamplingType(sampling_type),
        "stage": Stage.DISTRIBUTION, "region_code": region, "verdict": Verdict(verdict), "failed_items": failed,
        "source": "test",
    }
    fields.update(extra)
    return InspectionResult(**fields)
