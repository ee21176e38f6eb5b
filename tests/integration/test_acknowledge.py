"""The duty officer's loop on the real stack (issue #36): acknowledging stops reminders until the alert changes,
later messages name who acknowledged, the signed link in a robot message works once, and reminders back off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from alerts.acks import AckLinks, redeem, verify
from alerts.exceptions import AckLinkError, AckLinkUsedError
from alerts.messages import renderer
from alerts.reminders import ack_holds
from alerts.service import sync_reference_data
from dashboards import queries
from notify.delivery import Notifier
from qsmon.plans import Plan, load_plan_text
from qsmon.settings import Settings
from tests.integration.test_alert_policies import World, vegetables
from tests.integration.test_read_api import serving

pytestmark = pytest.mark.integration

SECRET = "test-ack-secret-0123456789"
ROBOT = "channels: [{{name: robot, type: dingtalk, url: '{url}', group_wait_s: 0, group_interval_s: 0}}]\n"
PLAN = """\
id: ack-test
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
    return load_plan_text(PLAN)  # one rolling window: a week of simulated days keeps the results inside it


@pytest.fixture
def make_world(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    worlds: list[World] = []

    def make(**overrides: Any) -> World:
        world = World(
            settings.model_copy(update={"alerts_no_data_days": 60, **overrides}), tmp_path, [one_window_plan()], ROBOT
        )
        links = AckLinks(SECRET, "http://qsmon.test", timedelta(hours=72))
        world.notifier = Notifier(
            settings.dsn,
            {c.name: c for c in world.channels.channels},
            CollectorRegistry(),
            renderer(world.channels, links, clock=lambda: world.now),
        )
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


def texts(world: World) -> list[str]:
    return [str(m["markdown"]["text"]) for m in world.receiver.received]


def ack_token(text: str) -> str:
    match = re.search(r"\[确认告警\]\(http://qsmon\.test/v1/ack\?t=([A-Za-z0-9_\-.%]+)\)", text)
    assert match, text
    return match.group(1).replace("%3D", "=")


class TestAcknowledged:
    def test_no_reminder_for_seven_days_then_one_message_naming_the_ack_when_it_turns_critical(
        self, make_world: Any, db: psycopg.Connection
    ) -> None:
        world = make_world()
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 12, fail=True))
        assert world.sweep() == ["opened", "opened"]  # city and county
        assert {s for (s,) in db.execute("SELECT severity FROM alerts")} == {"warning"}
        assert world.deliver() == 1
        with db.transaction():
            acked = redeem(db, verify(SECRET, ack_token(texts(world)[0]), world.now), "张三", world.now)
        assert len(acked) == 2
        acked_at = world.now
        for _ in range(7 * 4):  # a sweep every 6 hours for 7 days: reminders were due every day
            world.now += timedelta(hours=6)
            assert "repeated" not in world.sweep()
            world.deliver()
        assert len(world.receiver.received) == 1
        world.store_results(vegetables("BAD2", 40, fail=True))
        assert world.sweep() == ["escalated", "escalated"]
        assert world.deliver() == 1
        [_, critical] = world.receiver.received
        assert critical["markdown"]["title"].startswith("【告警·严重】")
        local = acked_at.astimezone(ZoneInfo(world.settings.timezone))
        assert f"已确认:张三({local:%Y-%m-%d %H:%M})" in critical["markdown"]["text"]
        # The history has the acknowledgement, by whom and how; the dashboard shows the change since.
        assert db.execute(
            "SELECT count(*), min(details->>'by'), min(details->>'via') FROM alert_events WHERE kind = 'acknowledged'"
        ).fetchone() == (2, "张三", "link:robot")
        # The acknowledgement no longer holds (severity changed): reminders come back at the next interval.
        world.now += timedelta(days=1, minutes=1)
        assert world.sweep() == ["repeated", "repeated"]

    def test_the_dashboards_ack_state_is_the_reminders_rule(self, make_world: Any, db: psycopg.Connection) -> None:
        world = make_world()
        sync_reference_data(db, world.plans.values())  # what the panels join on
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 12, fail=True))
        world.sweep()
        world.deliver()
        sql = queries.ALERTS_ACKNOWLEDGED.replace("$plan", "ack-test")

        def agree(expected: str) -> None:
            rows = db.execute(
                "SELECT a.acknowledged_at, max(e.at) FROM alerts a JOIN alert_events e"
                " ON e.alert_id = a.id AND e.kind IN ('opened', 'reopened', 'escalated')"
                " WHERE a.status = 'firing' GROUP BY a.id"
            ).fetchall()
            held = {ack_holds(acked, changed) for acked, changed in rows}
            shown = {row[-1] for row in db.execute(sql)}
            assert shown == {expected}
            assert held == {expected == "已确认,暂停提醒"}

        assert {row[-1] for row in db.execute(sql)} == {"未确认"}
        with db.transaction():
            redeem(db, verify(SECRET, ack_token(texts(world)[0]), world.now), "李四", world.now)
        agree("已确认,暂停提醒")
        world.store_results(vegetables("BAD2", 40, fail=True))
        world.now += timedelta(minutes=5)
        assert world.sweep() == ["escalated", "escalated"]
        agree("确认后有变化")


class TestAckLink:
    def test_a_link_works_once_and_is_refused_when_reused_altered_or_expired(
        self, make_world: Any, db: psycopg.Connection
    ) -> None:
        world = make_world()
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 12, fail=True))
        world.sweep()
        world.deliver()
        token = ack_token(texts(world)[0])
        claim = verify(SECRET, token, world.now)
        assert claim.channel == "robot" and claim.group == "plan=ack-test"  # noqa: PT018 - names its group
        with pytest.raises(AckLinkError, match="expired"):
            verify(SECRET, token, world.now + timedelta(hours=72))
        with pytest.raises(AckLinkError, match="altered"):
            verify(SECRET, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), world.now)
        with pytest.raises(AckLinkError, match="altered"):
            verify("another-key", token, world.now)
        with db.transaction():
            assert len(redeem(db, claim, "张三", world.now)) == 2
        with pytest.raises(AckLinkUsedError), db.transaction():
            redeem(db, claim, "李四", world.now)
        assert db.execute("SELECT DISTINCT acknowledged_by FROM alerts").fetchall() == [("张三",)]

    def test_the_read_api_serves_the_link_once_and_a_token_with_the_ack_scope_acknowledges(
        self, make_world: Any, settings: Settings, db: psycopg.Connection
    ) -> None:
        from qsmon.tokens import Scope, create_token

        world = make_world()
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 12, fail=True))
        world.sweep()
        world.deliver()
        token = ack_token(texts(world)[0])
        expired = (
            AckLinks(SECRET, "http://qsmon.test", timedelta(hours=1))
            .link([1], "robot", "plan=ack-test", world.now - timedelta(hours=2))
            .split("t=")[1]
        )
        with db.transaction():
            _, ack_secret = create_token(db, "duty-app", {Scope.ACK})
            _, reader = create_token(db, "reader", {Scope.READ})
        with serving(settings.model_copy(update={"ack_secret": SecretStr(SECRET)})) as base:
            page = httpx.get(f"{base}/v1/ack", params={"t": token})
            assert page.status_code == 200 and "确认人" in page.text  # noqa: PT018 - a preview spends nothing
            first = httpx.post(f"{base}/v1/ack", data={"t": token, "by": "王五"})
            assert first.status_code == 200 and "王五 已确认告警" in first.text  # noqa: PT018
            again = httpx.post(f"{base}/v1/ack", data={"t": token, "by": "王五"})
            assert again.status_code == 409
            old = httpx.post(f"{base}/v1/ack", data={"t": expired.replace("%3D", "="), "by": "王五"})
            assert old.status_code == 403 and "expired" in old.text  # noqa: PT018
            alert_id = db.execute("SELECT min(id) FROM alerts").fetchone()[0]  # type: ignore[index]
            refused = httpx.post(f"{base}/v1/alerts/{alert_id}/ack", headers={"Authorization": f"Bearer {reader}"})
            assert refused.status_code == 403  # reading is not acknowledging
            ok = httpx.post(
                f"{base}/v1/alerts/{alert_id}/ack",
                json={"by": "赵六"},
                headers={"Authorization": f"Bearer {ack_secret}"},
            )
            assert ok.status_code == 200 and ok.json()["acknowledged_now"] is False  # noqa: PT018 - 王五 holds it
        assert db.execute("SELECT count(*) FROM ack_link_uses WHERE used_by = '王五'").fetchone() == (1,)


class TestBackoff:
    def test_reminders_back_off_a_day_three_days_then_weekly(self, make_world: Any) -> None:
        world = make_world(alerts_repeat_backoff=(86400.0, 3 * 86400.0, 7 * 86400.0))
        world.store_results(vegetables("OK", 400, fail=False) + vegetables("BAD", 12, fail=True))
        start = world.now
        assert world.sweep() == ["opened", "opened"]
        reminded = []
        for _ in range(20 * 4):
            world.now += timedelta(hours=6)
            if "repeated" in world.sweep():
                reminded.append((world.now - start).days)
        assert reminded == [1, 4, 11, 18]
