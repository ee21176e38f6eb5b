"""The notifier against receivers that misbehave, on the real database: one channel's trouble stays its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from notify.delivery import GONE_CHANNEL_RETRY, Notifier
from notify.message import Message
from notify.outbox import enqueue_case_notice
from notify.routing import Channel, load_channels
from notify.testing import StuckReceiver, WebhookReceiver
from qsmon.exceptions import ConfigError
from qsmon.settings import Settings
from tests.workers import free_port

pytestmark = pytest.mark.integration


def render(channel: Channel, payloads: list[dict[str, Any]]) -> Message:
    text = "\n".join(str(p["line"]) for p in payloads)
    return Message(title="测试", markdown=text, data={"lines": [p["line"] for p in payloads]})


def queue(conn: psycopg.Connection, channel: str, count: int = 1, group: str = "g", start: int = 0) -> None:
    for i in range(start, start + count):
        enqueue_case_notice(
            conn,
            case_id=None,
            channel=channel,
            group_key=group,
            once_key=f"{group}-{i}",
            payload={"line": f"{channel} {i}"},
        )


def notifier(settings: Settings, *channels: Channel) -> Notifier:
    return Notifier(settings.dsn, {c.name: c for c in channels}, CollectorRegistry(), render)


def hook(name: str, url: str, **extra: Any) -> Channel:
    return Channel.model_validate(
        {"name": name, "type": "webhook", "url": url, "group_wait_s": 0, "group_interval_s": 0, **extra}
    )


@pytest.fixture
def healthy() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def trickle() -> Iterator[StuckReceiver]:
    server = StuckReceiver()
    yield server
    server.stop()


class TestOneChannelsTroubleStaysItsOwn:
    def test_a_receiver_answering_a_byte_at_a_time_costs_its_timeout_and_no_other_channel_waits(
        self, settings: Settings, db: psycopg.Connection, healthy: WebhookReceiver, trickle: StuckReceiver
    ) -> None:
        queue(db, "slow")
        queue(db, "duty")
        sender = notifier(settings, hook("slow", trickle.url, timeout_s=1.0), hook("duty", healthy.url))
        started = time.monotonic()
        assert sender.deliver_due() == 1
        assert time.monotonic() - started < 3.0  # the slow one's 1 s deadline, not its endless answer
        assert [m["lines"] for m in healthy.received] == [["duty 0"]]
        assert db.execute(
            "SELECT attempts, last_error LIKE '%%too slow%%', next_attempt_at > now()"
            " FROM notification_outbox WHERE channel = 'slow'"
        ).fetchone() == (1, True, True)
        # While that send still hangs, the channel gets no second one.
        db.execute("UPDATE notification_outbox SET next_attempt_at = now() WHERE channel = 'slow'")
        assert sender.deliver_due() == 0
        assert trickle.requests == 1
        row = db.execute("SELECT last_error FROM notification_outbox WHERE channel = 'slow'").fetchone()
        assert row is not None
        assert "still being sent" in row[0]

    def test_a_url_httpx_cannot_send_to_fails_its_channel_only_and_the_file_check_refuses_it(
        self, settings: Settings, db: psycopg.Connection, healthy: WebhookReceiver, tmp_path: Path
    ) -> None:
        typo = "http://127.0.0.1:2850l/hook?key=SECRET-KEY-123"
        channels = tmp_path / "channels.yaml"
        channels.write_text(f"channels: [{{name: typo, type: wecom, url: '{typo}'}}]\n", encoding="utf-8")
        with pytest.raises(ConfigError) as refused:
            load_channels(channels)
        assert "SECRET" not in str(refused.value)
        # Were it to reach the notifier all the same (a file from before the check): that channel fails, alone.
        broken = hook("typo", typo)  # the model alone does not check the URL: load_channels does
        queue(db, "typo")
        queue(db, "duty")
        assert notifier(settings, broken, hook("duty", healthy.url)).deliver_due() == 1
        error = db.execute("SELECT last_error FROM notification_outbox WHERE channel = 'typo'").fetchone()[0]  # type: ignore[index]
        assert "could not send" in error
        assert "SECRET-KEY-123" not in error
        assert len(healthy.received) == 1

    def test_a_dead_channels_backlog_does_not_starve_the_others(
        self, settings: Settings, db: psycopg.Connection, healthy: WebhookReceiver
    ) -> None:
        dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens
        queue(db, "dead", count=1200)
        queue(db, "duty")
        sender = notifier(settings, hook("dead", dead, timeout_s=0.5), hook("duty", healthy.url))
        assert sender.deliver_due() == 1
        assert [m["lines"] for m in healthy.received] == [["duty 0"]]
        # The dead channel's message carried its oldest 200 changes, not 1,200.
        assert db.execute(
            "SELECT count(*) FILTER (WHERE attempts = 1), count(*) FROM notification_outbox WHERE channel = 'dead'"
        ).fetchone() == (200, 1200)

    def test_a_channel_gone_from_the_file_waits_an_hour_between_tries(
        self, settings: Settings, db: psycopg.Connection, healthy: WebhookReceiver
    ) -> None:
        queue(db, "removed")
        sender = notifier(settings, hook("duty", healthy.url))
        for _ in range(3):  # passes within the hour leave it alone
            assert sender.deliver_due() == 0
        attempts, wait = db.execute("SELECT attempts, next_attempt_at - now() FROM notification_outbox").fetchone()  # type: ignore[misc]
        assert attempts == 1
        assert GONE_CHANNEL_RETRY * 0.99 < wait <= GONE_CHANNEL_RETRY

    def test_a_payload_that_cannot_be_rendered_fails_its_group_not_the_notifier(
        self, settings: Settings, db: psycopg.Connection, healthy: WebhookReceiver
    ) -> None:
        enqueue_case_notice(
            db,
            case_id=None,
            channel="duty",
            group_key="bad",
            once_key="bad-0",
            payload={"written by": "another release"},
        )  # no "line": render raises KeyError
        queue(db, "duty")
        assert notifier(settings, hook("duty", healthy.url)).deliver_due() == 1
        assert [m["lines"] for m in healthy.received] == [["duty 0"]]
        error = db.execute("SELECT last_error FROM notification_outbox WHERE group_key = 'bad'").fetchone()[0]  # type: ignore[index]
        assert error.startswith("cannot render the message")


class TestWhatWasSentStaysSent:
    def test_a_delivery_commits_at_once_so_a_connection_lost_later_in_the_pass_sends_nothing_twice(
        self, settings: Settings, db: psycopg.Connection, healthy: WebhookReceiver, trickle: StuckReceiver
    ) -> None:
        queue(db, "duty")
        queue(db, "slow")  # after duty's: the pass reaches it once duty's message went out
        sender = notifier(settings, hook("duty", healthy.url), hook("slow", trickle.url, timeout_s=3.0))
        failures: list[BaseException] = []

        def deliver() -> None:
            try:
                sender.deliver_due()
            except BaseException as exc:
                failures.append(exc)

        passing = threading.Thread(target=deliver)
        passing.start()
        deadline = time.monotonic() + 5
        while not healthy.received and time.monotonic() < deadline:
            time.sleep(0.05)
        # Mid-pass, the slow send hanging: duty's delivery is already visible to everyone, then the link goes.
        assert db.execute(
            "SELECT delivered_at IS NOT NULL FROM notification_outbox WHERE channel = 'duty'"
        ).fetchone() == (True,)
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'qsmon-notifier'"
            " AND datname = current_database()"
        )
        passing.join(10)
        assert failures  # the pass ended on the lost connection
        db.execute("UPDATE notification_outbox SET next_attempt_at = now()")
        sender.deliver_due()
        assert len(healthy.received) == 1
