"""Channel senders against real local receivers: bodies, signatures, robot answers, mail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import orjson
import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from notify.channels import ROBOT_MARKDOWN_BYTES, fit_markdown, send
from notify.exceptions import DeliveryError
from notify.routing import Channel, load_channels, wants
from notify.testing import WebhookReceiver
from qsmon.exceptions import ConfigError
from tests.factories import ALERT_PAYLOAD, alert_message
from tests.workers import free_port

MESSAGE = alert_message(ALERT_PAYLOAD)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


def channel(kind: str, url: str, **extra: Any) -> Channel:
    return Channel.model_validate({"name": f"test-{kind}", "type": kind, "url": url, **extra})


class TestWebhook:
    def test_the_body_is_signed_with_hmac_sha256_and_carries_the_idempotency_key(
        self, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HOOK_SECRET", "s3cret")
        receiver = WebhookReceiver()
        try:
            send(client, channel("webhook", receiver.url, secret_env="HOOK_SECRET"), MESSAGE, "qsmon-7-9-hook")
        finally:
            receiver.stop()
        headers, body = receiver.headers[0], receiver.received[0]
        assert body == MESSAGE.data
        assert body["alerts"] == [ALERT_PAYLOAD]
        assert headers["Idempotency-Key"] == "qsmon-7-9-hook"
        raw = orjson.dumps(MESSAGE.data)
        expected = hmac.new(b"s3cret", headers["X-Qsmon-Timestamp"].encode() + b"." + raw, hashlib.sha256)
        assert headers["X-Qsmon-Signature"] == "sha256=" + expected.hexdigest()

    def test_a_receiver_that_is_down_is_a_delivery_error(self, client: httpx.Client) -> None:
        receiver = WebhookReceiver()
        receiver.stop()
        with pytest.raises(DeliveryError, match="unreachable"):
            send(client, channel("webhook", receiver.url), MESSAGE, "k")


class TestRobots:
    def test_wecom_gets_chinese_markdown(self, client: httpx.Client) -> None:
        receiver = WebhookReceiver(reply=b'{"errcode": 0, "errmsg": "ok"}')
        try:
            send(client, channel("wecom", receiver.url), MESSAGE, "k")
        finally:
            receiver.stop()
        message = receiver.received[0]
        assert message["msgtype"] == "markdown"
        content = message["markdown"]["content"]
        for text in (
            "洪湖市",
            "农产品质量安全例行监测合格率",
            "**94.50%**",
            "≥ 98.00%",
            "440 批次",
            "毒死蜱(20)",
            "92.10% – 96.20%",
            "[查看趋势看板](http://grafana.test/d/qsmon-trends)",
        ):
            assert text in content

    def test_a_robot_refusal_is_a_delivery_error(self, client: httpx.Client) -> None:
        receiver = WebhookReceiver(reply=b'{"errcode": 93000, "errmsg": "invalid webhook url"}')
        try:
            with pytest.raises(DeliveryError, match="refused"):
                send(client, channel("wecom", receiver.url), MESSAGE, "k")
        finally:
            receiver.stop()

    def test_dingtalk_signs_the_url_as_dingtalk_specifies(
        self, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DING_SECRET", "SEC000")
        receiver = WebhookReceiver(reply=b'{"errcode": 0}')
        try:
            send(
                client, channel("dingtalk", receiver.url + "?access_token=abc", secret_env="DING_SECRET"), MESSAGE, "k"
            )
        finally:
            receiver.stop()
        query = parse_qs(urlparse(receiver.paths[0]).query)
        timestamp = query["timestamp"][0]
        expected = base64.b64encode(hmac.new(b"SEC000", f"{timestamp}\nSEC000".encode(), hashlib.sha256).digest())
        assert query["sign"][0] == expected.decode()
        assert query["access_token"] == ["abc"]
        assert abs(int(timestamp) / 1000 - time.time()) < 60
        assert receiver.received[0]["markdown"]["title"].startswith("【告警·严重】荆州市 农产品质量安全例行监测合格率")

    def test_feishu_signs_the_body_as_feishu_specifies(
        self, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LARK_SECRET", "lark-secret")
        receiver = WebhookReceiver(reply=b'{"code": 0, "msg": "success"}')
        try:
            send(client, channel("feishu", receiver.url, secret_env="LARK_SECRET"), MESSAGE, "k")
        finally:
            receiver.stop()
        body = receiver.received[0]
        key = f"{body['timestamp']}\nlark-secret".encode()
        assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        assert body["card"]["header"]["template"] == "red"
        assert "洪湖市" in body["card"]["elements"][0]["text"]["content"]

    def test_alertmanager_gets_labels_and_an_end_on_resolve(self, client: httpx.Client) -> None:
        receiver = WebhookReceiver()
        try:
            send(client, channel("alertmanager", f"http://127.0.0.1:{receiver.port}"), MESSAGE, "k")
            send(
                client,
                channel("alertmanager", f"http://127.0.0.1:{receiver.port}"),
                alert_message(ALERT_PAYLOAD | {"transition": "resolved"}),
                "k2",
            )
        finally:
            receiver.stop()
        assert receiver.paths == ["/api/v2/alerts", "/api/v2/alerts"]
        opened, resolved = receiver.received[0][0], receiver.received[1][0]
        assert opened["labels"] == {
            "alertname": "QsmonIndicatorBelowTarget",
            "plan": "jingzhou-2023",
            "indicator": "agricultural-routine-pass",
            "region": "421083",
            "subcategory": "all",
            "window": "rolling_30d",
            "severity": "critical",
        }
        now = datetime.now(UTC)
        assert datetime.fromisoformat(opened["endsAt"]) > now  # firing: Alertmanager keeps it
        assert datetime.fromisoformat(resolved["startsAt"]) <= datetime.fromisoformat(resolved["endsAt"]) <= now


class TestMail:
    def test_smtp_delivers_a_chinese_mail_with_a_stable_message_id(self) -> None:
        received: list[Any] = []

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                received.append(envelope)
                return "250 OK"

        port = free_port()
        controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        controller.start()
        try:
            mail = Channel(
                name="mail", type="smtp", host="127.0.0.1", port=port, sender="qsmon@test", recipients=("duty@test",)
            )
            send(httpx.Client(), mail, MESSAGE, "qsmon-7-9-mail")
        finally:
            controller.stop()
        text = received[0].content.decode()
        assert received[0].rcpt_tos == ["duty@test"]
        assert "Message-ID: <qsmon-7-9-mail@qsmon>" in text
        assert "Subject: =?utf-8?" in text  # the Chinese subject is encoded, not mangled


class TestRouting:
    def test_channels_filter_by_severity_region_and_plan(self) -> None:
        class E:
            plan_id = "jingzhou-2023"
            scope = type("S", (), {"region_code": "421083"})()

        c = Channel(
            name="c",
            type="webhook",
            url=SecretStr("http://x"),
            severities=("critical",),
            regions=("421000",),
            plans=("jingzhou-2023",),
        )
        assert wants(c, E(), "critical")
        assert not wants(c, E(), "warning")
        assert not wants(c.model_copy(update={"regions": ("420500",)}), E(), "critical")
        assert not wants(c.model_copy(update={"plans": ("yichang-2018",)}), E(), "critical")

    def test_a_robot_without_url_is_refused_at_load(self, tmp_path: Path) -> None:
        path = tmp_path / "channels.yaml"
        path.write_text("channels: [{name: ding, type: dingtalk}]", encoding="utf-8")
        with pytest.raises(ConfigError, match="needs a url"):
            load_channels(path)


class TestSecretsStayOut:
    """A failed delivery names the channel and the status; keys in URLs and signing secrets never appear."""

    def test_robot_keys_are_not_in_the_error_even_when_the_receiver_echoes_the_url(
        self, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DING_SECRET", "SIGNING-SECRET-1")
        receiver = WebhookReceiver(
            reply=b'{"errcode": 310000, "errmsg": "keywords not in content"}', status=500, echo_path=True
        )
        try:
            for robot in (
                channel("wecom", receiver.url + "?key=WECOM-KEY-123"),
                channel("dingtalk", receiver.url + "?access_token=DING-TOKEN-456", secret_env="DING_SECRET"),
                channel("feishu", receiver.url + "/FEISHU-HOOK-789"),
            ):
                with pytest.raises(DeliveryError) as failure:
                    send(client, robot, MESSAGE, "k")
                text = str(failure.value)
                assert f"channel='{robot.name}'" in text
                assert "status=500" in text
                for secret in ("WECOM-KEY-123", "DING-TOKEN-456", "SIGNING-SECRET-1", "FEISHU-HOOK-789"):
                    assert secret not in text
        finally:
            receiver.stop()

    def test_an_unreachable_url_with_credentials_is_not_in_the_error(self, client: httpx.Client) -> None:
        hook = channel("webhook", f"http://duty:HOOK-PASSWORD@127.0.0.1:{free_port()}/hook?token=HOOK-TOKEN")
        with pytest.raises(DeliveryError, match="unreachable") as failure:
            send(client, hook, MESSAGE, "k")
        assert "HOOK-PASSWORD" not in str(failure.value)
        assert "HOOK-TOKEN" not in str(failure.value)

    def test_an_invalid_channels_file_does_not_print_the_url(self, tmp_path: Path) -> None:
        path = tmp_path / "channels.yaml"
        path.write_text(
            "channels: [{name: w, type: wecom, url: 'https://qyapi.example/send?key=K-SECRET', port: x}]",
            encoding="utf-8",
        )
        with pytest.raises(ConfigError) as failure:
            load_channels(path)
        assert "K-SECRET" not in str(failure.value)
        assert "port" in str(failure.value)

    @pytest.mark.parametrize(
        "text",
        [
            "channels:\n  - name: duty\n    url: https://qyapi.example/send?key=K-SECRET: x\n",  # a stray colon
            "channels:\n  - {name: duty, url: 'https://qyapi.example/send?key=K-SECRET'\n",  # an unclosed brace
            "channels:\n  - name: duty\n\turl: https://qyapi.example/send?key=K-SECRET\n",  # a tab
        ],
    )
    def test_a_yaml_syntax_error_names_the_line_not_the_key(self, tmp_path: Path, text: str) -> None:
        path = tmp_path / "channels.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as failure:
            load_channels(path)
        assert "K-SECRET" not in str(failure.value)
        assert failure.value.__cause__ is None  # nor in a logged traceback's cause
        assert "line" in str(failure.value)

    @pytest.mark.parametrize(
        "echo",
        [
            b"x" * 190 + b" key=WECOM-KEY-0123456789abcdef",  # the 200-character cut falls inside the key
            b"https%3A%2F%2Frobot%3Fkey%3DWECOM-KEY-0123456789abcdef",  # echoed URL-encoded
        ],
    )
    def test_a_receivers_answer_is_masked_before_it_is_cut(self, client: httpx.Client, echo: bytes) -> None:
        receiver = WebhookReceiver(reply=echo, status=500)
        try:
            with pytest.raises(DeliveryError) as failure:
                send(client, channel("wecom", receiver.url + "?key=WECOM-KEY-0123456789abcdef"), MESSAGE, "k")
        finally:
            receiver.stop()
        assert "WECOM-KEY-0123" not in str(failure.value)
        assert "0123456789abcdef" not in str(failure.value)


class TestEarlierPayloads:
    def test_a_payload_queued_by_an_earlier_version_still_renders(self) -> None:
        from alerts.messages import alertmanager_alert

        added = (
            "period_start",
            "period_end",
            "jurisdiction_name",
            "region_level",
            "plan_status",
            "opened_at",
            "top_failed_firms",
            "jurisdiction",
            "in_force_until",
        )
        earlier = {k: v for k, v in ALERT_PAYLOAD.items() if k not in added}
        assert alert_message(earlier).title == "【告警·严重】洪湖市 农产品质量安全例行监测合格率"
        assert alertmanager_alert(earlier)["labels"]["region"] == "421083"


class TestRobotsGetWhatTheyAccept:
    def test_an_incident_too_long_for_a_robot_is_cut_to_its_size_keeping_the_link(self) -> None:
        lines = [f"- 荆州市第{i}县 蔬菜例行监测合格率 91.2%（目标 ≥98%）" for i in range(300)]
        text = "\n".join(["## 告警", *lines, "[查看仪表盘](http://grafana/d/qsmon-trends)"])
        cut = fit_markdown(text, ROBOT_MARKDOWN_BYTES["wecom"])
        assert len(cut.encode()) <= 4096
        assert cut.startswith("## 告警\n- 荆州市第0县")
        assert cut.endswith("消息过长，其余内容见仪表盘）\n[查看仪表盘](http://grafana/d/qsmon-trends)")
        assert fit_markdown("短消息", 4096) == "短消息"

    def test_a_line_longer_than_the_room_is_cut_inside_on_a_character_boundary(self) -> None:
        cut = fit_markdown("## 告警\n" + "长" * 5000 + "\n[查看仪表盘](http://grafana/d/x)\n", 4096)
        assert len(cut.encode()) <= 4096
        assert cut.startswith("## 告警\n长长长")  # the content, not only the title
        assert cut.endswith("[查看仪表盘](http://grafana/d/x)")

    def test_a_message_without_a_link_keeps_its_lines_in_order(self) -> None:
        notice = "## 即将到期\n" + "\n".join(f"- 案件{i} 即将到期" for i in range(500))
        cut = fit_markdown(notice, 300)
        assert len(cut.encode()) <= 300
        assert cut.startswith("## 即将到期\n- 案件0 即将到期\n- 案件1")
        assert cut.endswith("其余内容见仪表盘）")
