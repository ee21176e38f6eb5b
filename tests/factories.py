"""Builders of test data shared by the test modules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.messages import group_message
from notify.message import Message
from notify.routing import DEFAULT_INHIBIT_RULES
from qsmon import clock
from qsmon.schema import FailedItem, InspectionResult
from qsmon.vocab import Category, SamplingType, Stage, Verdict

BASE_TIME = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def result(
    sample_id: str,
    *,
    revision: int = 1,
    verdict: str = "pass",
    at: datetime = BASE_TIME,
    category: str = "food",
    sampling_type: str = "evaluative",
    region: str = "421003",
    subcategory: str | None = "蔬菜",
    **extra: Any,
) -> InspectionResult:
    failed = (FailedItem(item="毒死蜱", measured="0.12", limit="≤0.02", unit="mg/kg"),) if verdict == "fail" else ()
    fields: dict[str, Any] = {
        # Reported five days after sampling, or now for results sampled in the last few days: never in the future.
        "sample_id": sample_id,
        "revision": revision,
        "sampled_at": at,
        "reported_at": min(at + timedelta(days=5), max(at, clock.now())),
        "category": Category(category),
        "subcategory": subcategory,
        "sampling_type": SamplingType(sampling_type),
        "stage": Stage.DISTRIBUTION,
        "region_code": region,
        "verdict": Verdict(verdict),
        "failed_items": failed,
        "source": "test",
    }
    fields.update(extra)
    return InspectionResult(**fields)


# One county's vegetables under a 98 % target: the plan the alert, leadership and failover tests run (its id
# filled in per test, so tests never share alerts).
VEGETABLES_PLAN = """\
id: {plan_id}
title: 测试市蔬菜质量计划
issuer: 测试
jurisdiction: {{name: 荆州市, region_code: "421000"}}
period: {{start: 2020-01-01, end: 2030-12-31}}
indicators:
  - id: vegetables-pass
    name: 蔬菜例行监测合格率
    source: 蔬菜例行监测合格率保持在98%以上
    measure: pass_rate
    filter: {{categories: [agricultural], sampling_types: [routine_monitoring], subcategories: [蔬菜]}}
    target: {{op: ">=", value: 98}}
    windows: [rolling_30d]
    min_samples: 50
    severity: critical
"""


def vegetables(prefix: str, count: int, *, fail: bool, region: str = "421083") -> list[InspectionResult]:
    """``count`` routine-monitoring 蔬菜 results of ``region``, sampled yesterday, all passing or all failing."""
    now = clock.now()
    return [
        result(
            f"{prefix}-{i}",
            verdict="fail" if fail else "pass",
            at=now - timedelta(days=1, minutes=i % 600),
            category="agricultural",
            sampling_type="routine_monitoring",
            region=region,
            subcategory="蔬菜",
        )
        for i in range(count)
    ]


# An alert notification's payload as alerts.payload builds it: what channels and messages are tested with.
ALERT_PAYLOAD: dict[str, Any] = {
    "alert_id": 7,
    "event_id": 9,
    "transition": "opened",
    "severity": "critical",
    "at": "2026-11-21T10:00:00+08:00",
    "plan": "jingzhou-2023",
    "plan_title": "荆州市质量强市建设实施方案",
    "indicator": "agricultural-routine-pass",
    "indicator_name": "农产品质量安全例行监测合格率",
    "measure": "pass_rate",
    "region": "421083",
    "region_name": "洪湖市",
    "region_level": "region",
    "jurisdiction": "421000",
    "jurisdiction_name": "荆州市",
    "plan_status": "in_force",
    "period_start": "2024-01-01",
    "period_end": "2025-12-31",
    "in_force_until": None,
    "opened_at": "2026-11-21T09:30:00+08:00",
    "top_failed_firms": [["某某蔬菜合作社", 3]],
    "subcategory": "",
    "window": "rolling_30d",
    "window_label": "近30天",
    "first_day": "2026-10-23",
    "last_day": "2026-11-21",
    "value": 94.5,
    "low": 92.1,
    "high": 96.2,
    "op": ">=",
    "target": 98.0,
    "previous_value": None,
    "samples": 440,
    "failed": 24,
    "state": "critical",
    "top_failed_items": [["毒死蜱", 20], ["腐霉利", 4]],
    "dashboard_url": "http://grafana.test/d/qsmon-trends",
}


def alert_message(payload: dict[str, Any]) -> Message:
    """The message one alert change becomes on its own (no grouping, the default inhibit rules)."""
    message = group_message([payload], DEFAULT_INHIBIT_RULES)
    assert message is not None
    return message
