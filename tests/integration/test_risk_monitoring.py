"""Risk monitoring measured as it is (issue #16): 问题发现率 from its own indicator, and never inside a pass rate
that does not name it; a void sample counts in neither."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from indicators.evaluate import evaluate_indicator
from qsmon import clock
from qsmon.plans import load_plan_text
from qsmon.settings import Settings
from tests.factories import result
from tests.workers import DirectWriter

pytestmark = pytest.mark.integration

PLAN = load_plan_text("""\
id: risk-test
title: 测试市食品安全
issuer: 测试
jurisdiction: {name: 荆州市, region_code: "421000"}
period: {start: 2020-01-01, end: 2099-12-31}
indicators:
  - id: food-pass
    name: 食品抽检合格率
    source: 食品抽检合格率
    measure: pass_rate
    filter: {categories: [food]}
    target: {op: ">=", value: 98}
    windows: [rolling_30d]
  - id: food-risk-problems
    name: 食品风险监测问题发现率
    source: 风险监测
    measure: problem_rate
    filter: {categories: [food], sampling_types: [risk_monitoring]}
    target: {op: "<=", value: 30}
    windows: [rolling_30d]
""")


def test_risk_monitoring_has_its_own_rate_and_stays_out_of_pass_rates(
    settings: Settings, db: psycopg.Connection
) -> None:
    day = clock.now() - timedelta(days=3)
    supervisory = [
        result(f"S-{i}", verdict="fail" if i < 2 else "pass", at=day, sampling_type="supervisory") for i in range(100)
    ]
    risk = [
        result(f"R-{i}", verdict="fail" if i < 3 else "pass", at=day, sampling_type="risk_monitoring")
        for i in range(12)
    ]
    void = [result("V-1", verdict="fail", at=day), result("V-1", revision=2, verdict="void", at=day)]
    writer = DirectWriter(settings)
    try:
        writer.store_results(supervisory + risk + void)
    finally:
        writer.close()
    today = clock.today(settings.timezone)
    by_indicator = {i.id: evaluate_indicator(db, PLAN, i, today, timezone=settings.timezone) for i in PLAN.indicators}
    city = {
        k: next(e for e in v if e.scope.region_code == "421000" and not e.scope.subcategory)
        for k, v in by_indicator.items()
    }
    assert (city["food-pass"].samples, city["food-pass"].value) == (100, 98.0)  # neither risk nor void samples
    assert city["food-risk-problems"].samples == 12
    assert city["food-risk-problems"].value == pytest.approx(25.0)  # 3 problem samples in 12
