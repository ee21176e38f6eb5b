"""What a duty officer lives with, on the real stack: grouping, folding, reminders, silences, severity, no-data,
plans in force, Alertmanager kept current, and any city of China."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from alerts.engine import AlertEngine
from alerts.messages import renderer
from alerts.refresh import end_in_alertmanager, refresh_alertmanager
from indicators.stats import State
from notify.deadline import DeadlineSender
from notify.delivery import Notifier
from notify.routing import ChannelsConfig, load_channels
from notify.testing import StuckReceiver, WebhookReceiver
from qsmon import clock
from qsmon.plans import Plan, load_plan_text
from qsmon.schema import InspectionResult
from qsmon.settings import Settings, get_settings
from streams.records import SourceRecord, classify
from streams.store import ResultStore
from tests.factories import result

pytestmark = pytest.mark.integration

PLAN = """\
id: {plan_id}
title: 测试市蔬菜质量计划
issuer: 测试
jurisdiction: {{name: {city_name}, region_code: "{city}"}}
period: {{start: {start}, end: {end}}}
{extra}
indicators:
  - id: vegetables-pass
    name: 蔬菜例行监测合格率
    source: 蔬菜例行监测合格率保持在98%以上
    measure: pass_rate
    filter: {{categories: [agricultural], sampling_types: [routine_monitoring], subcategories: [蔬菜]}}
    target: {{op: ">=", value: 98}}
    windows: [rolling_30d, month_to_date]
    min_samples: 50
    severity: {severity}
"""


def plan(
    plan_id: str = "policy-test",
    *,
    city: str = "421000",
    city_name: str = "荆州市",
    start: str = "2020-01-01",
    end: str = "2030-12-31",
    extra: str = "",
    severity: str = "critical",
) -> Plan:
    return load_plan_text(
        PLAN.format(
            plan_id=plan_id, city=city, city_name=city_name, start=start, end=end, extra=extra, severity=severity
        )
    )


def vegetables(
    prefix: str, count: int, *, fail: bool, region: str = "421083", at: datetime | None = None
) -> list[InspectionResult]:
    # Today at local noon (at most a few hours ahead: the schema allows a day's skew), so the results fall inside
    # every window, month_to_date included, on whatever day the suite runs (the 1st of a month too).
    zone = ZoneInfo(get_settings().timezone)
    moment = at or datetime.combine(clock.today(zone.key), datetime.min.time(), zone) + timedelta(hours=12)
    return [
        result(
            f"{prefix}-{i}",
            verdict="fail" if fail else "pass",
            at=moment - timedelta(minutes=i % 600),
            category="agricultural",
            sampling_type="routine_monitoring",
            region=region,
            subcategory="蔬菜",
        )
        for i in range(count)
    ]


class World:
    """Results stored through the worker's own store, an engine over them, a notifier to a local receiver."""

    def __init__(self, settings: Settings, tmp_path: Path, plans: list[Plan], channels: str = "") -> None:
        self.settings = settings.model_copy(update={"alerts_hold_seconds": 0.0})
        self.receiver = WebhookReceiver(reply=b'{"errcode": 0}')
        path = tmp_path / "channels.yaml"
        path.write_text(
            channels.format(url=self.receiver.url, am=settings.alertmanager_url.get_secret_value())
            or f"channels: [{{name: duty, type: webhook, url: '{self.receiver.url}', group_wait_s: 0,"
            f" group_interval_s: 0}}]\n",
            encoding="utf-8",
        )
        self.channels: ChannelsConfig = load_channels(path)
        self.plans = {p.id: p for p in plans}
        self.store = ResultStore(settings.dsn, group="g", topic="t")
        self.offset = 0
        self.now = clock.now()
        self.engine = AlertEngine(self.settings, self.plans, self.channels, clock=lambda: self.now)
        self.notifier = Notifier(
            settings.dsn, {c.name: c for c in self.channels.channels}, CollectorRegistry(), renderer(self.channels)
        )

    def store_results(self, events: list[InspectionResult]) -> None:
        records = [SourceRecord(0, self.offset + i, e.key, e.to_json()) for i, e in enumerate(events)]
        self.offset += len(records)
        self.store.write(classify(records, self.now + timedelta(days=1))[0], records)

    def sweep(self) -> list[str]:
        return [event.transition.value for event in self.engine.sweep()]

    def deliver(self) -> int:
        return self.notifier.deliver_due()

    def close(self) -> None:
        self.store.close()
        self.engine.close()
        self.receiver.stop()


@pytest.fixture
def world_factory(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    worlds: list[World] = []

    def make(plans: list[Plan], channels: str = "", **overrides: Any) -> World:
        world = World(settings.model_copy(update=overrides), tmp_path, plans, channels)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


class TestGrouping:
    def test_an_incident_is_one_message_per_group_and_the_next_waits_for_the_group_interval(
        self, world_factory: Any
    ) -> None:
        world = world_factory(
            [plan()], "channels: [{{name: duty, type: webhook, url: '{url}', group_wait_s: 1, group_interval_s: 3}}]\n"
        )
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
        assert world.sweep().count("opened") == 4  # city and county, two windows each
        assert world.deliver() == 0  # the group waits for more of the incident
        time.sleep(1.2)
        assert world.deliver() == 1
        [message] = world.receiver.received
        assert {(a["region"], a["window"]) for a in message["alerts"]} == {
            ("421000", "rolling_30d"),
            ("421000", "month_to_date"),
            ("421083", "rolling_30d"),
            ("421083", "month_to_date"),
        }
        world.store_results(
            vegetables("OK2", 60, fail=False, region="421081") + vegetables("BAD2", 30, fail=True, region="421081")
        )  # 石首市 joins
        assert "opened" in world.sweep()
        time.sleep(1.2)
        assert world.deliver() == 0  # within the group interval of the last message
        time.sleep(2)
        assert world.deliver() == 1
        assert {a["region"] for a in world.receiver.received[1]["alerts"]} == {"421081"}


class TestInhibition:
    def test_counties_fold_into_their_citys_line(self, world_factory: Any) -> None:
        world = world_factory([plan()], "channels: [{{name: robot, type: wecom, url: '{url}', group_wait_s: 0}}]\n")
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
        world.sweep()
        assert world.deliver() == 1
        text = world.receiver.received[0]["markdown"]["content"]
        assert "|荆州市|蔬菜例行监测合格率:" in text
        assert "下级地区同时未达标:洪湖市" in text
        assert "|洪湖市|" not in text  # no line of its own
        assert "近30天" in text and "本月" in text  # noqa: PT018 - both windows on the one line


class TestPlansChangedUnderFiringAlerts:
    def test_a_renamed_indicator_or_a_plan_taken_out_closes_its_alerts_instead_of_crashing_the_reminder(
        self, world_factory: Any, db: psycopg.Connection
    ) -> None:
        world = world_factory([plan(), plan("other-plan")], alerts_repeat_seconds=60.0)
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
        assert world.sweep().count("opened") == 8  # two plans, city and county, two windows
        renamed = load_plan_text(
            PLAN.format(
                plan_id="policy-test",
                city="421000",
                city_name="荆州市",
                start="2020-01-01",
                end="2030-12-31",
                extra="",
                severity="critical",
            ).replace("id: vegetables-pass", "id: vegetables-pass-rate")
        )
        world.engine.plans = {"policy-test": renamed}  # other-plan taken out of QSMON_ACTIVE_PLANS
        world.now += timedelta(seconds=61)  # the old alerts' reminders are due: they needed the old indicator
        # `qsmon alerts evaluate` (no retiring: an operator's shell may name other plans) reminds of nothing it
        # cannot describe, and closes nothing.
        assert "repeated" not in [event.transition.value for event in world.engine.sweep()]
        assert db.execute(
            "SELECT count(*) FROM alerts WHERE status = 'firing' AND indicator_id = 'vegetables-pass'"
        ).fetchone() == (8,)
        transitions = [event.transition.value for event in world.engine.sweep(retire=True)]
        assert "repeated" not in transitions
        # Their changes not yet sent would announce closed alerts: marked done, unsent, with the reason.
        assert db.execute(
            "SELECT count(*) FROM notification_outbox o JOIN alerts a ON a.id = o.alert_id"
            " WHERE a.indicator_id = 'vegetables-pass' AND o.last_error LIKE 'not sent: the alert was"
            " retired%%' AND o.delivered_at IS NOT NULL"
        ).fetchone() == (8,)
        assert world.engine.retired == list(range(min(world.engine.retired), min(world.engine.retired) + 8))
        assert transitions.count("opened") == 0  # the renamed indicator opened its own in the sweep before
        assert db.execute(
            "SELECT indicator_id, plan_id, count(*) FILTER (WHERE status = 'firing'), count(*)"
            " FROM alerts GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall() == [
            ("vegetables-pass", "other-plan", 0, 4),
            ("vegetables-pass", "policy-test", 0, 4),
            ("vegetables-pass-rate", "policy-test", 4, 4),
        ]


class TestReminders:
    def test_a_still_firing_alert_is_announced_again_every_repeat_interval(self, world_factory: Any) -> None:
        world = world_factory([plan()], alerts_repeat_seconds=60.0)
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
        assert "opened" in world.sweep()
        world.deliver()
        world.now += timedelta(seconds=30)
        assert "repeated" not in world.sweep()
        world.now += timedelta(seconds=31)
        assert world.sweep().count("repeated") == 4
        world.deliver()
        assert world.receiver.transitions()[-4:] == ["repeated"] * 4
        text_message = world.receiver.received[-1]
        assert text_message["title"].startswith("【告警·严重】")

    def test_a_silence_ending_while_its_alert_fires_announces_it(
        self, world_factory: Any, db: psycopg.Connection
    ) -> None:
        world = world_factory([plan()])
        db.execute(
            "INSERT INTO silences (plan_id, region_code, until, reason, created_by) VALUES"
            " ('policy-test', '421000', %s, 'maintenance', 'test')",
            (world.now + timedelta(hours=1),),
        )
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
        assert world.sweep().count("opened") == 4
        world.deliver()
        assert world.receiver.received == []  # silenced: recorded, not sent
        assert world.sweep() == []  # still silenced: nothing new
        db.execute("UPDATE silences SET expired_at = now()")
        assert world.sweep().count("repeated") == 4  # the silence ended while they fire: announced now
        world.deliver()
        assert world.receiver.transitions() == ["repeated"] * 4
        assert world.sweep() == []  # and only once


class TestSeverity:
    def test_an_info_indicator_is_recorded_and_never_pages(self, world_factory: Any, db: psycopg.Connection) -> None:
        world = world_factory([plan(severity="info")])
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
        assert world.sweep().count("opened") == 4
        assert db.execute("SELECT DISTINCT severity FROM alerts").fetchall() == [("info",)]
        world.deliver()
        assert world.receiver.received == []  # the duty channel takes warning and critical only

    def test_a_warning_indicator_caps_a_critical_state(self, world_factory: Any, db: psycopg.Connection) -> None:
        world = world_factory([plan(severity="warning")])
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
        world.sweep()
        states = {s for (s,) in db.execute("SELECT state FROM indicator_evaluations WHERE region_code = '421083'")}
        assert State.CRITICAL.value in states  # statistically critical …
        world.deliver()
        assert {a["severity"] for a in world.receiver.alerts()} == {"warning"}  # … announced as the plan says


class TestNoData:
    def test_a_feed_that_stops_raises_no_data_and_resolves_when_results_return(self, world_factory: Any) -> None:
        world = world_factory([plan()])
        today = world.now
        # Eight weeks of about 3 results a day in 洪湖市, then nothing for the last 10 days.
        history = [
            r
            for week in range(8)
            for r in vegetables(f"H{week}", 21, fail=False, at=today - timedelta(days=10 + 7 * week))
        ]
        world.store_results(history)
        transitions = [e for e in world.engine.sweep() if e.evaluation.window == "no_data"]
        assert [(e.transition.value, e.evaluation.scope.region_code) for e in transitions] == [
            ("opened", "421000"),
            ("opened", "421083"),
        ]
        world.deliver()
        assert "数据中断" in {a["window_label"] for a in world.receiver.alerts()}
        world.store_results(vegetables("BACK", 5, fail=False, at=today - timedelta(hours=2)))
        resolved = [e for e in world.engine.sweep() if e.evaluation.window == "no_data"]
        assert {e.transition.value for e in resolved} == {"resolved"}


class TestPlansInForce:
    def test_an_expired_plan_does_not_alert_while_an_extended_one_does(
        self, world_factory: Any, db: psycopg.Connection
    ) -> None:
        today = clock.now().date()
        ended = (today - timedelta(days=60)).isoformat()
        expired = plan("expired-plan", start="2020-01-01", end=ended)
        extended = plan(
            "extended-plan",
            start="2020-01-01",
            end=ended,
            extra=f"in_force_until: {(today + timedelta(days=365)).isoformat()}",
        )
        world = world_factory([expired, extended])
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
        world.sweep()
        plans = {p for (p,) in db.execute("SELECT DISTINCT plan_id FROM alerts")}
        assert plans == {"extended-plan"}
        world.deliver()
        [change, *_] = world.receiver.alerts()
        assert change["plan_status"] == "extended"

    def test_alerts_of_a_plan_that_expires_are_closed_once(self, world_factory: Any, db: psycopg.Connection) -> None:
        today = clock.now().date()
        short = plan("short-plan", start="2020-01-01", end=(today + timedelta(days=1)).isoformat())
        world = world_factory([short])
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
        assert world.sweep().count("opened") == 4
        world.now += timedelta(days=3)
        assert world.sweep().count("expired") == 4
        assert world.sweep() == []
        assert db.execute("SELECT count(*) FROM alerts WHERE status = 'firing'").fetchone() == (0,)


def told_alertmanager(world_factory: Any, plan_id: str) -> World:
    """A world whose plan fires four alerts (city and county, two windows), delivered to the local Alertmanager."""
    world: World = world_factory([plan(plan_id)], "channels: [{{name: am, type: alertmanager, url: '{am}'}}]\n")
    world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))
    world.sweep()
    assert world.deliver() == 1
    return world


class TestAlertmanager:
    def test_firing_alerts_are_refreshed_before_alertmanager_forgets_them(
        self, world_factory: Any, settings: Settings
    ) -> None:
        world = told_alertmanager(world_factory, "am-refresh-test")

        def ends() -> datetime:
            answer = httpx.get(
                f"{settings.alertmanager_url.get_secret_value()}/api/v2/alerts",
                params={"filter": 'plan="am-refresh-test"'},
                timeout=10,
            ).json()
            return max(datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00")) for a in answer)

        first = ends()
        time.sleep(1.5)
        sender = DeadlineSender(httpx.Client())
        assert refresh_alertmanager(world.engine.connection(), sender, world.channels.channels[0]) == 4
        time.sleep(0.5)
        assert ends() > first + timedelta(seconds=1)
        assert ends() > datetime.now(UTC) + timedelta(minutes=30)

    def test_alerts_of_a_plan_taken_out_end_in_alertmanager_at_once(
        self, world_factory: Any, settings: Settings
    ) -> None:
        world = told_alertmanager(world_factory, "am-retire-test")
        url = f"{settings.alertmanager_url.get_secret_value()}/api/v2/alerts"

        def active() -> int:
            return len(httpx.get(url, params={"filter": 'plan="am-retire-test"', "active": "true"}, timeout=10).json())

        assert active() == 4
        world.engine.plans = {}  # taken out of QSMON_ACTIVE_PLANS
        world.engine.sweep(retire=True)
        assert len(world.engine.retired) == 4
        sender = DeadlineSender(httpx.Client())
        assert (
            end_in_alertmanager(world.engine.connection(), sender, world.channels.channels[0], world.engine.retired)
            == 4
        )
        deadline = time.monotonic() + 10
        while active() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert active() == 0

    def test_a_hung_alertmanager_costs_the_engine_its_timeout_not_its_loop(self, world_factory: Any) -> None:
        world = told_alertmanager(world_factory, "am-hung-test")
        stuck = StuckReceiver()
        try:
            hung = world.channels.channels[0].model_copy(update={"url": SecretStr(stuck.url), "timeout_s": 1.0})
            started = time.monotonic()
            assert refresh_alertmanager(world.engine.connection(), DeadlineSender(httpx.Client()), hung) == 0
            assert time.monotonic() - started < 3
            assert stuck.requests == 1
        finally:
            stuck.stop()


class TestAnyCity:
    def test_a_plan_for_another_city_evaluates_and_names_its_counties(
        self, world_factory: Any, db: psycopg.Connection
    ) -> None:
        huanggang = plan("huanggang-test", city="421100", city_name="黄冈市")
        world = world_factory([huanggang])
        world.store_results(
            vegetables("OK", 400, fail=False, region="421182") + vegetables("BAD", 40, fail=True, region="421182")
        )
        world.sweep()
        regions = {r for (r,) in db.execute("SELECT DISTINCT region_code FROM indicator_evaluations")}
        assert {"421100", "421182", "421102", "421181"} <= regions  # the city, 武穴市 and its other counties
        world.deliver()
        assert {a["region_name"] for a in world.receiver.alerts()} == {"黄冈市", "武穴市"}
