"""Pace alerts on the real stack (database, store, engine, notifier, webhook): a slow rise of a county's failure
rate is announced as 达标预测 before any window's rate crosses the target, and a clean year raises none."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from alerts.engine import AlertEngine
from alerts.messages import group_message, renderer
from indicators.pace import PACE_WINDOW
from notify.delivery import Notifier
from notify.routing import load_channels
from notify.testing import WebhookReceiver
from qsmon.plans import load_plan_text
from qsmon.schema import InspectionResult
from qsmon.settings import Settings
from streams.records import SourceRecord, classify
from streams.store import ResultStore
from tests.factories import result

pytestmark = pytest.mark.integration

PLAN = """\
id: pace-test
title: 测试市蔬菜质量计划
issuer: 测试
jurisdiction: {name: 荆州市, region_code: "421000"}
period: {start: 2020-01-01, end: 2030-12-31}
pace: {alerts: true}
indicators:
  - id: vegetables-pass
    name: 蔬菜例行监测合格率
    source: 蔬菜例行监测合格率保持在98%以上
    measure: pass_rate
    filter: {categories: [agricultural], sampling_types: [routine_monitoring], subcategories: [蔬菜]}
    target: {op: ">=", value: 98}
    windows: [rolling_30d, year_to_date]
    min_samples: 50
    severity: warning
"""
HONGHU = "421083"
PER_DAY = 40


class Year:
    """A county's vegetables sampled day by day (seeded draws at a failure rate per day), stored as the worker does,
    and an engine whose clock the test moves."""

    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.settings = settings.model_copy(update={"alerts_hold_seconds": 0.0})
        self.zone = ZoneInfo(settings.timezone)
        self.receiver = WebhookReceiver()
        path = tmp_path / "channels.yaml"
        path.write_text(
            f"channels: [{{name: duty, type: webhook, url: '{self.receiver.url}', group_wait_s: 0,"
            f" group_interval_s: 0, severities: [info, warning, critical]}}]\n",
            encoding="utf-8",
        )
        channels = load_channels(path)
        self.plan = load_plan_text(PLAN)
        self.store = ResultStore(settings.dsn, group="g", topic="t")
        self.offset = 0
        self.now = datetime.combine(date(2025, 1, 1), time(18), self.zone)
        self.engine = AlertEngine(self.settings, {self.plan.id: self.plan}, channels, clock=lambda: self.now)
        self.engine.pace_every = timedelta(0)  # every sweep, as the days move
        self.notifier = Notifier(
            settings.dsn, {c.name: c for c in channels.channels}, CollectorRegistry(), renderer(channels)
        )
        self.rng = random.Random(35)

    def sample(self, first: date, last: date, fail_rate: float) -> None:
        events: list[InspectionResult] = []
        day = first
        while day <= last:
            noon = datetime.combine(day, time(12), self.zone)
            events += [
                result(
                    f"{day:%Y%m%d}-{i}",
                    verdict="fail" if self.rng.random() < fail_rate else "pass",
                    at=noon - timedelta(minutes=i),
                    category="agricultural",
                    sampling_type="routine_monitoring",
                    region=HONGHU,
                    subcategory="蔬菜",
                )
                for i in range(PER_DAY)
            ]
            day += timedelta(days=1)
        records = [SourceRecord(0, self.offset + i, e.key, e.to_json()) for i, e in enumerate(events)]
        self.offset += len(records)
        self.store.write(classify(records, datetime.now(self.zone) + timedelta(days=1))[0], records)

    def sweep_on(self, day: date) -> dict[str, str]:
        """Sweep at the end of ``day``; the opened alerts' windows by their severity."""
        self.now = datetime.combine(day, time(18), self.zone)
        return {
            e.evaluation.window: e.severity
            for e in self.engine.sweep()
            if e.transition.value in ("opened", "reopened") and e.evaluation.scope.region_code == HONGHU
        }

    def close(self) -> None:
        self.store.close()
        self.engine.close()
        self.receiver.stop()


@pytest.fixture
def year(settings: Settings, tmp_path: Path) -> Iterator[Year]:
    y = Year(settings, tmp_path)
    y.sample(date(2024, 1, 1), date(2024, 12, 31), 0.005)  # last year: 99.5 %, the chart's baseline
    yield y
    y.close()


def weeks(first: date, last: date) -> Iterator[tuple[date, date]]:
    day = first
    while day <= last:
        yield day, min(last, day + timedelta(days=6))
        day += timedelta(days=7)


class TestPaceAlerts:
    def test_a_slow_rise_is_announced_as_pace_weeks_before_any_window_falls_below_target(
        self, year: Year, db: psycopg.Connection
    ) -> None:
        opened: dict[str, date] = {}
        # Clean until June, then 1.5 % failing (98.5 %: still above the 98 % target in every window), then 4 %.
        for first, last in weeks(date(2025, 1, 1), date(2025, 9, 30)):
            rate = 0.005 if first < date(2025, 6, 1) else 0.015 if first < date(2025, 8, 1) else 0.04
            year.sample(first, last, rate)
            for window in year.sweep_on(last):
                opened.setdefault(window, last)
        assert PACE_WINDOW in opened
        assert "rolling_30d" in opened
        assert date(2025, 6, 1) < opened[PACE_WINDOW] < date(2025, 8, 1)  # the rise, before it crosses
        assert opened["rolling_30d"] >= date(2025, 8, 1)
        assert (opened["rolling_30d"] - opened[PACE_WINDOW]).days >= 14
        # The pace alert is worded like the others: projected year end, its interval, the probability.
        assert year.notifier.deliver_due() >= 1
        pace = [a for a in year.receiver.alerts("pace-test") if a["window"] == PACE_WINDOW and a["region"] == HONGHU]
        assert pace, [(a["window"], a["region"]) for a in year.receiver.alerts()]
        message = group_message(pace[:1], [])  # what the robots' and mail's markdown says of it
        assert message is not None
        text = message.markdown
        assert pace[0]["window_label"] == "达标预测"
        assert pace[0]["pace"]["drift"]["signalled"] or any(b["firing"] for b in pace[0]["pace"]["burns"])
        assert 0 <= pace[0]["pace"]["probability"] <= 1
        assert pace[0]["low"] <= pace[0]["value"] <= pace[0]["high"]
        assert "预计年底合格率" in text, text
        assert "达标概率" in text
        stored = db.execute(
            "SELECT tested, value, low, high FROM indicator_evaluations WHERE window_name = %s AND region_code = %s",
            (PACE_WINDOW, HONGHU),
        ).fetchone()
        assert stored is not None
        assert stored[0] > 8000  # the year so far

    def test_a_clean_year_raises_no_pace_alert(self, year: Year) -> None:
        opened: dict[str, date] = {}
        for first, last in weeks(date(2025, 1, 1), date(2025, 12, 31)):
            year.sample(first, last, 0.005)
            if last.day > 24 or last == date(2025, 12, 31):  # a sweep a month is enough for a year with no news
                for window in year.sweep_on(last):
                    opened.setdefault(window, last)
        assert PACE_WINDOW not in opened
        assert not opened  # nor any level alert: 99.5 % against 98 %
