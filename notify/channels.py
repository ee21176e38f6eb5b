"""Senders, one per channel type, for any :class:`Message`; each raises DeliveryError when the receiver refuses it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import mimetypes
import os
import smtplib
import time
from collections.abc import Iterable
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote_plus

import httpx
import orjson

from notify.exceptions import DeliveryError
from notify.message import Message
from notify.routing import Channel


def post_json(
    client: httpx.Client, channel: Channel, body: bytes, headers: dict[str, str], *, url: str | None = None
) -> httpx.Response:
    """POST to the channel (or ``url``, a signed form of its endpoint); errors name the channel, never the URL."""
    try:
        response = client.post(
            url or channel.endpoint,
            content=body,
            headers={"content-type": "application/json", **headers},
            timeout=channel.timeout_s,
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(
            "receiver unreachable", channel=channel.name, error=channel.scrub(f"{type(exc).__name__}: {exc}")
        ) from None
    if response.status_code >= 300:
        raise DeliveryError(
            "receiver refused",
            channel=channel.name,
            status=response.status_code,
            body=channel.scrub(response.text)[:200],
        )  # masked before cut: a cut key is unmasked
    return response


def check_robot_answer(channel: Channel, response: httpx.Response, code_field: str) -> None:
    """WeCom/DingTalk answer errcode, Feishu code: 0 means delivered, even on HTTP 200."""
    try:
        answer = response.json()
    except ValueError:
        raise DeliveryError(
            "robot answered non-JSON", channel=channel.name, body=channel.scrub(response.text)[:200]
        ) from None
    if not isinstance(answer, dict) or answer.get(code_field, 0) != 0:
        raise DeliveryError("robot refused the message", channel=channel.name, answer=channel.scrub(str(answer))[:300])


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def dingtalk_signed_url(url: str, secret: str, now_ms: int) -> str:
    """DingTalk robot signing: HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret, base64, URL-quoted."""
    to_sign = f"{now_ms}\n{secret}".encode()
    sign = base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={now_ms}&sign={quote_plus(sign)}"


def dingtalk_url(channel: Channel) -> str:
    """The channel's endpoint, signed when it has a signing secret."""
    secret = channel.secret()
    return dingtalk_signed_url(channel.endpoint, secret, int(time.time() * 1000)) if secret else channel.endpoint


def feishu_sign(secret: str, now_s: int) -> str:
    """Feishu robot signing: HMAC-SHA256 keyed by "timestamp\\nsecret" over an empty message, base64."""
    key = f"{now_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


# Robots refuse a message over their size for good (WeCom: errcode 40058), so an incident with many lines would
# never arrive: the body is cut to fit (what is cut stays on the dashboard and in the webhook's and mail's
# copies). WeCom documents 4,096 bytes of markdown, Feishu 20 KB a request; DingTalk publishes no byte figure and
# gets Feishu's, less the JSON around the text.
ROBOT_MARKDOWN_BYTES = {"wecom": 4096, "dingtalk": 18_000, "feishu": 18_000}
CUT_NOTE = "\n\n……（消息过长，其余内容见仪表盘）"


def fit_markdown(markdown: str, limit_bytes: int) -> str:
    """The markdown within ``limit_bytes`` of UTF-8: whole lines while they fit, then as much of the next as fits
    (never half a character), a note that the rest is on the dashboard, and the dashboard link when the message
    ends with one."""
    markdown = markdown.rstrip("\n")
    if len(markdown.encode()) <= limit_bytes:
        return markdown
    lines = markdown.split("\n")
    tail = lines.pop() if len(lines) > 1 and "http" in lines[-1] else ""
    if len(tail.encode()) > limit_bytes // 4:  # a link longer than a quarter of the room is not worth it
        tail = ""
    budget = limit_bytes - len(CUT_NOTE.encode()) - (len(tail.encode()) + 1 if tail else 0)
    kept: list[str] = []
    for line in lines:
        size = len(line.encode()) + (1 if kept else 0)
        if size > budget:
            room = budget - (1 if kept else 0)
            if room > 0:
                kept.append(line.encode()[:room].decode(errors="ignore"))
            break
        kept.append(line)
        budget -= size
    return "\n".join(kept) + CUT_NOTE + ("\n" + tail if tail else "")


def send_timeout_s(channel: Channel, message: Message) -> float:
    """How long one send may take, all of it: the channel's timeout; mail with attachments at least 30 s."""
    return max(30.0, channel.timeout_s) if message.attachments else channel.timeout_s


def send(client: httpx.Client, channel: Channel, message: Message, idempotency_key: str) -> None:
    kind = channel.type
    if kind == "webhook":
        body = orjson.dumps(message.data)
        headers = {"Idempotency-Key": idempotency_key}
        secret = channel.secret()
        if secret:
            timestamp = str(int(time.time()))
            headers |= {"X-Qsmon-Timestamp": timestamp, "X-Qsmon-Signature": webhook_signature(secret, timestamp, body)}
        post_json(client, channel, body, headers)
    elif kind == "alertmanager":
        if not message.alertmanager:
            raise DeliveryError("an Alertmanager channel takes alerts only", channel=channel.name)
        post_json(
            client,
            channel,
            orjson.dumps(list(message.alertmanager)),
            {},
            url=channel.endpoint.rstrip("/") + "/api/v2/alerts",
        )
    elif kind == "wecom":
        mobiles = [p.mobile for p in message.mentions if p.mobile]
        body = orjson.dumps(
            {
                "msgtype": "markdown",
                "markdown": {
                    "content": _robot_markdown(kind, message)
                    + _at_line(f"<@{p.wecom_user_id}>" for p in message.mentions if p.wecom_user_id),
                    "mentioned_mobile_list": mobiles,
                },
            }
        )
        check_robot_answer(channel, post_json(client, channel, body, {}), "errcode")
    elif kind == "dingtalk":
        # DingTalk notifies the people in `at` only when the text also carries "@<mobile>" (or "@<userId>").
        mobiles = [p.mobile for p in message.mentions if p.mobile]
        users = [p.dingtalk_user_id for p in message.mentions if p.dingtalk_user_id and not p.mobile]
        text = _robot_markdown(kind, message) + _at_line(f"@{who}" for who in (*mobiles, *users))
        body = orjson.dumps(
            {
                "msgtype": "markdown",
                "markdown": {"title": message.title, "text": text},
                "at": {"atMobiles": mobiles, "atUserIds": users, "isAtAll": False},
            }
        )
        check_robot_answer(channel, post_json(client, channel, body, {}, url=dingtalk_url(channel)), "errcode")
    elif kind == "feishu":
        card: dict[str, Any] = {
            "msg_type": "interactive",
            "card": {
                "header": {
                    "title": {"tag": "plain_text", "content": message.title},
                    "template": "red" if message.urgent else "orange",
                },
                "elements": [
                    {
                        "tag": "div",
                        "text": {
                            "tag": "lark_md",
                            "content": _robot_markdown(kind, message)
                            + _at_line(
                                f"<at id={p.feishu_user_id}></at>" for p in message.mentions if p.feishu_user_id
                            ),
                        },
                    }
                ],
            },
        }
        secret = channel.secret()
        if secret:
            now_s = int(time.time())
            card = {"timestamp": str(now_s), "sign": feishu_sign(secret, now_s), **card}
        check_robot_answer(channel, post_json(client, channel, orjson.dumps(card), {}), "code")
    elif kind == "smtp":
        _send_mail(channel, message, idempotency_key)
    else:  # pragma: no cover - the channel model admits no other type
        raise DeliveryError("unknown channel type", type=kind)


def _at_line(mentions: Iterable[str]) -> str:
    """The @-mentions, on a line of their own after the (fitted) body."""
    text = " ".join(mentions)
    return f"\n\n{text}" if text else ""


def _robot_markdown(kind: str, message: Message) -> str:
    return fit_markdown(message.markdown, ROBOT_MARKDOWN_BYTES[kind])


def _send_mail(channel: Channel, message: Message, idempotency_key: str) -> None:
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = channel.sender or ""
    mail["To"] = ", ".join(channel.recipients)
    mail["Message-ID"] = f"<{idempotency_key}@qsmon>"  # receivers de-duplicate a retried mail by this id
    mail.set_content(message.markdown)
    for path in message.attachments:
        kind, _ = mimetypes.guess_type(path.name)
        maintype, subtype = (kind or "application/octet-stream").split("/", 1)
        mail.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    try:
        with smtplib.SMTP(channel.host or "localhost", channel.port, timeout=send_timeout_s(channel, message)) as smtp:
            if channel.starttls:
                smtp.starttls()
            user = os.environ.get(channel.username_env) if channel.username_env else None
            if user:
                smtp.login(user, os.environ.get(channel.password_env or "", ""))
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(
            "mail not accepted",
            channel=channel.name,
            host=channel.host,
            error=channel.scrub(f"{type(exc).__name__}: {exc}"),
        ) from None
