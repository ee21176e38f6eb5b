"""The rest of the duty officer's loop on the real stack (issue #36): recoveries during a silence, @-mentions from
the duty roster, escalation after working hours, mute intervals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from alerts.acks import acknowledge
from alerts.messages import renderer
from notify.delivery import Notifier
from notify.routing import load_channels
from notify.testing import WebhookReceiver
from qsmon.clock import local_day
from qsmon.plans import Plan, load_plan_text
from qsmon.settings import Settings
from tests.integration.test_alert_policies import World, vegetables

pytestmark = pytest.mark.integration

PLAN = """\
id: duty-test
title: 测试市蔬菜质量计划
issuer: 测试
jurisdiction: {name: 荆州市, region_code: "421000"}
period: {start: 2020-01-01, end: 2030-12-31}
indicators:
  - id: vegetables-pass
    name: 蔬菜例行监测合格率
    source: 蔬菜例行监测合格率保持在98%以上
    measure: pass_rate
    filter: {categories: [agricultural], sampling_types: [routine_monitoring], subcategories: [蔬菜]}
    target: {op: ">=", value: 98}
    windows: [rolling_30d]
    min_samples: 50
    severity: critical
"""


def one_window_plan() -> Plan:
    return load_plan_text(PLAN)


@pytest.fixture
def make_world(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    worlds: list[World] = []

    def make(channels: str = "", **overrides: Any) -> World:
        world = World(
            settings.model_copy(update={"alerts_no_data_days": 60, **overrides}),
            tmp_path,
            [one_window_plan()],
            channels,
        )
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


def incident(world: World) -> None:
    world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True))


class TestRecoveriesDuringASilence:
    @pytest.mark.parametrize("announce", [True, False])
    def test_a_silence_that_asks_announces_what_recovered_during_it_when_it_ends(
        self, make_world: Any, db: psycopg.Connection, announce: bool
    ) -> None:
        world = make_world()
        db.execute(
            "INSERT INTO silences (plan_id, until, reason, created_by, announce_recoveries) VALUES"
            " ('duty-test', %s, 'maintenance', 'test', %s)",
            (world.now + timedelta(hours=8), announce),
        )
        incident(world)
        assert world.sweep() == ["opened", "opened"]
        world.store_results(vegetables("GOOD", 2000, fail=False))  # 98.4 %: back at target
        world.now += timedelta(hours=1)
        assert world.sweep() == ["resolved", "resolved"]
        world.deliver()
        assert world.receiver.received == []  # silenced: recorded, not sent
        world.now += timedelta(hours=1)
        assert world.sweep() == []
        world.deliver()
        assert world.receiver.received == []  # still silenced
        world.now += timedelta(hours=7)  # the silence has ended
        world.sweep()
        world.deliver()
        assert world.receiver.transitions() == (["resolved", "resolved"] if announce else [])
        if announce:
            assert {a["held_by"] for a in world.receiver.alerts()} == {"silence:1"} or all(
                a["held_by"].startswith("silence:") for a in world.receiver.alerts()
            )
            world.now += timedelta(hours=1)
            world.sweep()
            world.deliver()
            assert len(world.receiver.received) == 1  # once


class TestMentions:
    def test_a_dingtalk_message_carries_the_on_duty_mobile_in_at_and_in_the_text(
        self, make_world: Any, tmp_path: Path
    ) -> None:
        world = make_world()
        day = clock_day(world)
        (tmp_path / "roster.yaml").write_text(
            "people:\n  张三: {mobile: '13800000001'}\n  李四: {mobile: '13900000002', dingtalk_user_id: lisi}\n"
            f"duty:\n  - {{from: {day}, to: {day}, who: [李四]}}\n  - {{who: [张三]}}\n",
            encoding="utf-8",
        )
        channels = tmp_path / "robots.yaml"
        channels.write_text(
            "roster_file: roster.yaml\nchannels:\n"
            f"  - {{name: robot, type: dingtalk, url: '{world.receiver.url}', group_wait_s: 0, group_interval_s: 0,"
            " mention: {severities: [critical]}}\n",
            encoding="utf-8",
        )
        world.channels = load_channels(channels)
        world.engine.channels = world.channels
        world.notifier = Notifier(
            world.settings.dsn,
            {c.name: c for c in world.channels.channels},
            CollectorRegistry(),
            renderer(world.channels, clock=lambda: world.now, timezone=world.settings.timezone),
        )
        incident(world)  # critical
        world.sweep()
        assert world.deliver() == 1
        [body] = world.receiver.received
        assert body["at"] == {"atMobiles": ["13900000002"], "atUserIds": [], "isAtAll": False}
        assert body["markdown"]["text"].endswith("\n\n@13900000002")
        world.now += timedelta(days=1, minutes=1)  # the next day: the roster's default
        world.sweep()
        assert world.deliver() == 1
        assert world.receiver.received[1]["at"]["atMobiles"] == ["13800000001"]
        assert "@13800000001" in world.receiver.received[1]["markdown"]["text"]


def clock_day(world: World) -> str:
    return local_day(world.now, world.settings.timezone).isoformat()


FRIDAY_3PM = datetime(2025, 3, 14, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # an ordinary working Friday


def escalating_world(make_world: Any, leader: WebhookReceiver) -> World:
    world: World = make_world(
        "channels:\n  - {{name: duty, type: webhook, url: '{url}', group_wait_s: 0, group_interval_s: 0}}\n"
        f"  - {{{{name: leader, type: webhook, url: '{leader.url}', plans: [alerts-escalation], group_wait_s: 0,"
        " group_interval_s: 0}}\n"
        "office_hours: {{start: '08:30', end: '17:30'}}\n"
        "escalations:\n  - {{after_working_hours: 4, channels: [leader], severities: [critical]}}\n"
    )
    world.now = FRIDAY_3PM.astimezone(UTC)
    world.store_results(
        vegetables("OK", 400, fail=False, at=FRIDAY_3PM - timedelta(days=6))
        + vegetables("BAD", 40, fail=True, at=FRIDAY_3PM - timedelta(days=6))
    )
    return world


class TestEscalation:
    def test_an_unacknowledged_alert_goes_up_once_after_four_working_hours_and_not_over_the_weekend(
        self, make_world: Any
    ) -> None:
        leader = WebhookReceiver()
        try:
            world = escalating_world(make_world, leader)
            assert world.sweep() == ["opened", "opened"]  # Friday 15:00: 2.5 working hours left that day
            handed_up: list[datetime] = []
            while world.now < (FRIDAY_3PM + timedelta(days=3, hours=3)).astimezone(UTC):  # to Monday 18:00
                world.now += timedelta(minutes=30)
                if "handed_up" in world.sweep():
                    handed_up.append(world.now)
                world.deliver()
            # 2.5 hours on Friday, none on Saturday and Sunday, 1.5 on Monday from 08:30: Monday 10:00.
            assert [t.astimezone(FRIDAY_3PM.tzinfo) for t in handed_up] == [FRIDAY_3PM + timedelta(days=3, hours=-5)]
            assert leader.transitions() == ["handed_up", "handed_up"]  # city and county, in one message, once
            assert len(leader.received) == 1
            assert "handed_up" not in world.receiver.transitions()  # the duty channel is not told again
        finally:
            leader.stop()

    def test_acknowledging_stops_the_escalation(self, make_world: Any, db: psycopg.Connection) -> None:
        leader = WebhookReceiver()
        try:
            world = escalating_world(make_world, leader)
            world.sweep()
            with db.transaction():
                acknowledge(db, [i for (i,) in db.execute("SELECT id FROM alerts")], "张三", world.now)
            world.now += timedelta(days=4)
            assert "handed_up" not in world.sweep()
            world.deliver()
            assert leader.received == []
        finally:
            leader.stop()


THURSDAY_8PM = datetime(2025, 3, 13, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a working day's evening


class TestMuteIntervals:
    def test_messages_are_held_overnight_and_sent_as_one_summary_at_half_past_eight(self, make_world: Any) -> None:
        world = make_world(
            "time_intervals: [{{name: nights, hours: ['18:00-08:30'], non_working_days: true}}]\n"
            "channels: [{{name: duty, type: webhook, url: '{url}', group_wait_s: 0, group_interval_s: 0,"
            " mute_time_intervals: [nights]}}]\n",
            alerts_repeat_seconds=3600.0,
        )
        world.notifier = Notifier(
            world.settings.dsn,
            {c.name: c for c in world.channels.channels},
            CollectorRegistry(),
            renderer(world.channels, clock=lambda: world.now, timezone=world.settings.timezone),
            muted=lambda c: world.channels.muted(c, world.now, world.settings.timezone),
        )
        world.now = THURSDAY_8PM.astimezone(UTC)
        world.store_results(
            vegetables("OK", 400, fail=False, at=THURSDAY_8PM - timedelta(days=6))
            + vegetables("BAD", 12, fail=True, at=THURSDAY_8PM - timedelta(days=6))
        )
        assert world.sweep() == ["opened", "opened"]  # 20:00: warning
        sent_at = []
        for step in range(1, 12 * 4 + 4):  # every quarter of an hour to Friday 08:45
            world.now += timedelta(minutes=15)
            if step == 12:  # 23:00: it turns critical
                world.store_results(vegetables("BAD2", 40, fail=True, at=THURSDAY_8PM - timedelta(days=6)))
            world.sweep()
            if world.deliver():
                sent_at.append(world.now.astimezone(THURSDAY_8PM.tzinfo))
        assert sent_at == [THURSDAY_8PM + timedelta(hours=12, minutes=30)]  # nothing overnight; one at 08:30
        [summary] = world.receiver.received
        assert summary["title"].startswith("【静默时段汇总】【告警·严重】")
        transitions = world.receiver.transitions()
        assert transitions[:2] == ["opened", "opened"] and "escalated" in transitions  # noqa: PT018 - every change
        assert transitions.count("repeated") >= 2  # the night's hourly reminders, folded into the one message
