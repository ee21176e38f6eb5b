"""Pace alerts from a scope's pace (alerts.pace) and how their message reads (alerts.messages)."""

from __future__ import annotations

from datetime import date

import pytest

from alerts.messages import group_message
from alerts.pace import details, pace_evaluation, signals
from indicators.drift import Burn, Drift
from indicators.evaluate import Scope
from indicators.forecast import Planned, Season, VolumeSource, season_factor, year_end_forecast
from indicators.pace import PACE_WINDOW, PaceView
from indicators.stats import State
from indicators.windows import DayRange
from qsmon.plans import load_plan_text
from qsmon.plans.model import DEFAULT_BURN_RULES
from tests.factories import ALERT_PAYLOAD

PLAN = load_plan_text("""\
id: pace-unit
title: 测试
issuer: 测试
jurisdiction: {name: 荆州市, region_code: "421000"}
period: {start: 2020-01-01, end: 2030-12-31}
pace: {alerts: true}
indicators:
  - id: veg
    name: 蔬菜例行监测合格率
    source: 蔬菜例行监测合格率保持在98%以上
    measure: pass_rate
    filter: {categories: [agricultural], sampling_types: [routine_monitoring]}
    target: {op: ">=", value: 98}
    windows: [rolling_30d]
    min_samples: 50
    severity: critical
""")
INDICATOR = PLAN.indicators[0]


def view(
    *,
    failed: int = 60,
    recent_failed: int = 45,
    burn: tuple[float, float, float, float] = (1, 1, 1, 1),
    chart: float | None = 0.0,
    tested: int = 6000,
) -> PaceView:
    forecast = year_end_forecast(98, tested, tested - failed, 4000, 4500, recent_failed)
    fast, slow = DEFAULT_BURN_RULES
    burns = (Burn(fast, burn[0], burn[1]), Burn(slow, burn[2], burn[3]))
    drift = None if chart is None else Drift(chart, 4.0, 1.0, seasonal=True)
    return PaceView(
        Scope("421083"),
        DayRange(date(2025, 1, 1), date(2025, 8, 1)),
        date(2025, 12, 31),
        98.0,
        False,
        tested,
        failed,
        Planned(10000, VolumeSource.LAST_YEAR),
        200.0,
        forecast,
        burns,
        drift,
    )


class TestPaceState:
    def test_a_quiet_year_is_ok(self) -> None:
        e = pace_evaluation(PLAN, INDICATOR, view())
        assert (e.window, e.state) == (PACE_WINDOW, State.OK)
        assert e.interval.low <= e.value <= e.interval.high  # type: ignore[operator]

    def test_a_fast_burn_is_a_warning(self) -> None:
        e = pace_evaluation(PLAN, INDICATOR, view(burn=(3.5, 4.0, 1.2, 1.5)))
        assert (e.state, e.severity) == (State.WARNING, "warning")

    def test_a_slow_burn_or_a_drift_is_info(self) -> None:
        assert pace_evaluation(PLAN, INDICATOR, view(burn=(1, 1, 1.2, 1.5))).severity == "info"
        drifting = pace_evaluation(PLAN, INDICATOR, view(chart=5.0))
        assert (drifting.state, drifting.severity) == (State.WARNING, "info")

    def test_a_forecast_unlikely_to_meet_the_target_is_a_warning(self) -> None:
        severity, _ = signals(PLAN, view(failed=140, recent_failed=150))  # 97.7 % so far and lately
        assert severity is not None
        assert severity.value == "warning"

    def test_a_chart_between_half_and_full_threshold_holds_the_alert_as_it_is(self) -> None:
        assert pace_evaluation(PLAN, INDICATOR, view(chart=3.0)).state is State.INSUFFICIENT_DATA
        assert pace_evaluation(PLAN, INDICATOR, view(chart=1.0)).state is State.OK

    def test_too_few_results_so_far_judge_nothing(self) -> None:
        assert pace_evaluation(PLAN, INDICATOR, view(tested=40, failed=0)).state is State.INSUFFICIENT_DATA


class TestSeason:
    def test_a_summer_ahead_raises_a_spring_forecasts_failure_rate(self) -> None:
        season = season_factor((40, 4000), (150, 7500))  # 1 % in spring last year, 2 % the rest
        assert season.factor == pytest.approx(2.0)
        assert season.variance == pytest.approx(1 / 40.5 + 1 / 150.5)

    def test_too_little_history_makes_no_correction(self) -> None:
        assert season_factor((4, 400), (150, 7500)) == Season()

    def test_the_season_moves_the_forecast(self) -> None:
        plain = year_end_forecast(98.5, 9000, 8910, 27000, 9000, 90)
        summer = year_end_forecast(98.5, 9000, 8910, 27000, 9000, 90, season=season_factor((40, 4000), (150, 7500)))
        assert summer.projected < plain.projected
        assert summer.probability < plain.probability


class TestPaceMessage:
    def test_it_reads_like_the_level_alerts_with_the_forecast_and_its_causes(self) -> None:
        v = view(chart=5.0)
        e = pace_evaluation(PLAN, INDICATOR, v)
        payload = {
            **ALERT_PAYLOAD,
            "window": PACE_WINDOW,
            "window_label": "达标预测",
            "value": e.value,
            "low": e.interval.low,
            "high": e.interval.high,
            "severity": "info",
            "samples": e.samples,
            "failed": e.failed,
            "pace": details(v),
        }
        message = group_message([payload], [])
        assert message is not None
        text = message.markdown
        assert f"预计年底合格率 **{e.value:.2f}%**(区间 {e.interval.low:.2f}%–{e.interval.high:.2f}%)" in text
        assert f"达标概率 {v.forecast.probability * 100:.0f}%" in text
        assert "全年按上年抽检量 10000 批次" in text
        assert "不合格率持续上升(CUSUM 5.0 ≥ 4.0" in text
        assert message.alertmanager[0]["labels"]["alertname"] == "QsmonTargetAtRisk"
