"""Secrets stay out of logs, stored errors and printed settings, whatever the receivers answer."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import pytest
import yaml
from prometheus_client import CollectorRegistry

from alerts.engine import AlertEngine
from alerts.messages import renderer
from notify.delivery import Notifier
from notify.routing import load_channels
from notify.testing import WebhookReceiver
from qsmon.logs import configure_logging
from qsmon.plans import presets
from qsmon.settings import Settings
from streams.records import SourceRecord, classify
from streams.store import ResultStore
from tests.factories import VEGETABLES_PLAN as PLAN
from tests.factories import vegetables
from tests.workers import free_port

pytestmark = pytest.mark.integration

SECRETS = {
    "QSMON_TEST_WECOM_URL_KEY": "wecom-key-0c1d2e3f",
    "QSMON_TEST_DING_TOKEN": "ding-token-4a5b6c7d",
    "QSMON_TEST_DING_SECRET": "SECding-signing-8e9f",
    "QSMON_TEST_FEISHU_HOOK": "feishu-hook-1234abcd",
    "QSMON_TEST_FEISHU_SECRET": "feishu-signing-5678",
    "QSMON_TEST_SMTP_USER": "smtp-user-2468",
    "QSMON_TEST_SMTP_PASSWORD": "smtp-password-1357",
}


def test_failed_robot_and_mail_deliveries_leave_no_secret_in_logs_or_the_outbox(
    settings: Settings,
    db: psycopg.Connection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    plans_dir = tmp_path / "plans"
    plans_dir.mkdir()
    (plans_dir / "secrets-test.yaml").write_text(PLAN.format(plan_id="secrets-test"), encoding="utf-8")
    # A receiver that fails every delivery and repeats the URL it was called with, keys included.
    receiver = WebhookReceiver(reply=b'{"errcode": 93000, "errmsg": "invalid webhook url"}', status=500, echo_path=True)
    channels = tmp_path / "channels.yaml"
    robots: list[dict[str, object]] = [
        {"name": "wecom", "type": "wecom", "url": f"{receiver.url}?key={SECRETS['QSMON_TEST_WECOM_URL_KEY']}"},
        {
            "name": "ding",
            "type": "dingtalk",
            "secret_env": "QSMON_TEST_DING_SECRET",
            "url": f"{receiver.url}?access_token={SECRETS['QSMON_TEST_DING_TOKEN']}",
        },
        {
            "name": "lark",
            "type": "feishu",
            "secret_env": "QSMON_TEST_FEISHU_SECRET",
            "url": f"{receiver.url}/{SECRETS['QSMON_TEST_FEISHU_HOOK']}",
        },
        {
            "name": "mail",
            "type": "smtp",
            "host": "127.0.0.1",
            "port": free_port(),
            "sender": "qsmon@test",
            "recipients": ["duty@test"],
            "username_env": "QSMON_TEST_SMTP_USER",
            "password_env": "QSMON_TEST_SMTP_PASSWORD",
        },
    ]
    channels.write_text(yaml.safe_dump({"channels": [{**r, "group_wait_s": 0} for r in robots]}), encoding="utf-8")
    config = load_channels(channels)
    plan = presets(plans_dir)["secrets-test"]
    engine = AlertEngine(settings, {plan.id: plan}, config)
    store = ResultStore(settings.dsn, group="g", topic="t")
    events = vegetables("OK", 400, fail=False) + vegetables("BAD", 40, fail=True)
    records = [SourceRecord(0, i, e.key, e.to_json()) for i, e in enumerate(events)]
    configure_logging("DEBUG")  # `qsmon alerts run --loglevel DEBUG`: the most an operator turns on
    caplog.set_level(logging.DEBUG)
    try:
        store.write(classify(records, events[-1].reported_at)[0], records)
        assert engine.sweep()
        notifier = Notifier(settings.dsn, {c.name: c for c in config.channels}, CollectorRegistry(), renderer(config))
        assert notifier.deliver_due() == 0
    finally:
        store.close()
        engine.close()
        receiver.stop()
    failures = db.execute("SELECT channel, attempts, last_error, payload::text FROM notification_outbox").fetchall()
    assert {row[0] for row in failures} == {"wecom", "ding", "lark", "mail"}
    assert all(row[1] == 1 and row[2] for row in failures)
    stored = "\n".join(f"{row[2]} {row[3]}" for row in failures)
    for secret in SECRETS.values():
        assert secret not in stored
        assert secret not in caplog.text
    assert "status=500" in stored  # what the operator needs is still there
    assert "channel='wecom'" in caplog.text
