"""The duty officer's loop, its pure parts: signed acknowledge links, the reminder rule and backoff, working hours,
mute intervals, the duty roster and the robots' @-mentions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.acks import AckClaim, sign, verify
from alerts.exceptions import AckLinkError
from alerts.reminders import RepeatPolicy, ack_holds, reminder_due
from notify.channels import send
from notify.roster import Person, load_roster
from notify.routing import Channel, load_channels
from notify.schedule import OfficeHours, TimeInterval, working_hours_between
from notify.testing import WebhookReceiver
from qsmon.exceptions import ConfigError
from tests.factories import ALERT_PAYLOAD, alert_message

ZONE = "Asia/Shanghai"
CST = ZoneInfo(ZONE)
NOW = datetime(2025, 3, 14, 7, 0, tzinfo=UTC)  # Friday 15:00 in Shanghai


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


class TestAckLinks:
    @given(
        st.lists(st.integers(1, 2**62), min_size=1, max_size=20), st.text(min_size=1, max_size=30), st.text(max_size=60)
    )
    def test_a_signed_claim_verifies_as_itself(self, ids: list[int], channel: str, group: str) -> None:
        claim = AckClaim(tuple(ids), channel, group, NOW + timedelta(hours=1), "n0nce")
        assert verify("key", sign("key", claim), NOW) == claim

    @given(st.text(max_size=200))
    def test_anything_else_is_refused_with_a_clear_error_never_a_crash(self, token: str) -> None:
        with pytest.raises(AckLinkError):
            verify("key", token, NOW)

    def test_a_changed_claim_or_another_key_is_refused(self) -> None:
        token = sign("key", AckClaim((1,), "robot", "plan=p", NOW + timedelta(hours=1), "n"))
        forged = sign("other", AckClaim((1, 2, 3), "robot", "plan=p", NOW + timedelta(hours=1), "n"))
        with pytest.raises(AckLinkError, match="altered"):
            verify("key", forged.split(".")[0] + "." + token.split(".")[1], NOW)
        with pytest.raises(AckLinkError, match="expired"):
            verify("key", token, NOW + timedelta(hours=1))


class TestReminders:
    POLICY = RepeatPolicy(timedelta(days=1), False, ZONE, (timedelta(days=1), timedelta(days=3), timedelta(days=7)))

    def test_an_acknowledgement_holds_until_the_next_change(self) -> None:
        changed = NOW - timedelta(days=2)
        assert ack_holds(changed + timedelta(minutes=1), changed)
        assert not ack_holds(changed - timedelta(minutes=1), changed)
        assert not ack_holds(None, changed)
        assert not reminder_due(
            changed, changed, NOW + timedelta(days=30), self.POLICY, acknowledged_at=changed + timedelta(hours=1)
        )

    def test_the_backoff_steps_then_repeats_its_last(self) -> None:
        assert [self.POLICY.wait_after(n) for n in range(5)] == [timedelta(days=d) for d in (1, 3, 7, 7, 7)]
        assert reminder_due(NOW - timedelta(days=3), NOW - timedelta(days=10), NOW, self.POLICY, reminders_sent=1)
        assert not reminder_due(NOW - timedelta(days=3), NOW - timedelta(days=10), NOW, self.POLICY, reminders_sent=2)


class TestWorkingHours:
    OFFICE = OfficeHours()

    def test_a_weekend_counts_nothing_and_monday_counts_from_half_past_eight(self) -> None:
        monday_10 = datetime(2025, 3, 17, 10, 0, tzinfo=CST)
        assert working_hours_between(NOW, monday_10, self.OFFICE, ZONE) == pytest.approx(4.0)
        assert (
            working_hours_between(
                datetime(2025, 3, 15, 9, tzinfo=CST), datetime(2025, 3, 16, 17, tzinfo=CST), self.OFFICE, ZONE
            )
            == 0.0
        )

    def test_a_holiday_counts_nothing_and_its_make_up_saturday_counts(self) -> None:
        # 2025: 劳动节 1–5 May off; Sunday 27 April a working day.
        assert (
            working_hours_between(datetime(2025, 5, 1, tzinfo=CST), datetime(2025, 5, 6, tzinfo=CST), self.OFFICE, ZONE)
            == 0.0
        )
        assert working_hours_between(
            datetime(2025, 4, 27, tzinfo=CST), datetime(2025, 4, 28, tzinfo=CST), self.OFFICE, ZONE
        ) == pytest.approx(9.0)


class TestTimeIntervals:
    NIGHTS = TimeInterval(name="nights", hours=("18:00-08:30",), non_working_days=True)

    @pytest.mark.parametrize(
        ("local", "active"),
        [
            (datetime(2025, 3, 13, 20, 0), True),
            (datetime(2025, 3, 14, 8, 29), True),
            (datetime(2025, 3, 14, 8, 30), False),
            (datetime(2025, 3, 14, 17, 59), False),
            (datetime(2025, 3, 15, 12, 0), True),  # a Saturday: a non-working day all day
            (datetime(2025, 4, 27, 12, 0), False),  # a make-up working Sunday
        ],
    )
    def test_nights_and_days_off(self, local: datetime, active: bool) -> None:
        assert self.NIGHTS.active(local.replace(tzinfo=CST), ZONE) is active

    def test_a_bad_hour_range_or_an_unknown_interval_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="HH:MM"):
            TimeInterval(name="x", hours=("6pm-8am",))
        path = tmp_path / "channels.yaml"
        path.write_text(
            "channels: [{name: a, type: webhook, url: 'http://127.0.0.1:1/x', mute_time_intervals: [night]}]\n",
            encoding="utf-8",
        )
        with pytest.raises(ConfigError, match="time interval"):
            load_channels(path)


class TestRoster:
    def test_the_first_entry_that_covers_the_day_says_who_is_on_duty(self, tmp_path: Path) -> None:
        (tmp_path / "roster.yaml").write_text(
            "people:\n  张三: {mobile: '13800000001'}\n  李四: {mobile: '13900000002'}\n"
            "duty:\n  - {from: 2025-03-10, to: 2025-03-14, who: [张三]}\n  - {weekdays: [sat, sun], who: [李四]}\n",
            encoding="utf-8",
        )
        (tmp_path / "channels.yaml").write_text("roster_file: roster.yaml\n", encoding="utf-8")
        roster = load_channels(tmp_path / "channels.yaml").roster
        assert roster is not None
        assert [name for name, _ in roster.on_duty(datetime(2025, 3, 14).date())] == ["张三"]
        assert [name for name, _ in roster.on_duty(datetime(2025, 3, 15).date())] == ["李四"]
        assert roster.on_duty(datetime(2025, 3, 17).date()) == []

    def test_someone_on_duty_who_is_not_among_the_people_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "roster.yaml"
        path.write_text("people: {}\nduty: [{who: [王五]}]\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="王五"):
            load_roster(path)


class TestMentions:
    PEOPLE = (Person(mobile="13800000001", wecom_user_id="ZhangSan", feishu_user_id="ou_7d8a6e"),)

    def test_wecom_carries_the_mobile_list_and_the_user_in_the_text(self, client: httpx.Client) -> None:
        receiver = WebhookReceiver(reply=b'{"errcode": 0}')
        try:
            send(
                client,
                Channel(name="w", type="wecom", url=receiver.url),  # type: ignore[arg-type]
                replace(alert_message(ALERT_PAYLOAD), mentions=self.PEOPLE),
                "k",
            )
        finally:
            receiver.stop()
        markdown = receiver.received[0]["markdown"]
        assert markdown["mentioned_mobile_list"] == ["13800000001"]
        assert markdown["content"].endswith("\n\n<@ZhangSan>")

    def test_feishu_mentions_the_user_in_the_card(self, client: httpx.Client) -> None:
        receiver = WebhookReceiver(reply=b'{"code": 0}')
        try:
            send(
                client,
                Channel(name="f", type="feishu", url=receiver.url),  # type: ignore[arg-type]
                replace(alert_message(ALERT_PAYLOAD), mentions=self.PEOPLE),
                "k",
            )
        finally:
            receiver.stop()
        content = receiver.received[0]["card"]["elements"][0]["text"]["content"]
        assert content.endswith("<at id=ou_7d8a6e></at>")


def test_the_example_channels_file_and_roster_load() -> None:
    config = load_channels(Path(__file__).parents[2] / "deploy" / "examples" / "channels.yaml")
    assert config.roster is not None
    assert [name for name, _ in config.roster.on_duty(datetime(2026, 12, 5).date())] == ["张三"]
    robot = config.channel("county-robot")
    assert robot is not None
    assert config.muted(robot, NOW, ZONE) is False  # Friday 15:00
    assert config.muted(robot, NOW + timedelta(hours=5), ZONE) is True  # Friday 20:00
