"""Senders, one per channel type. Each raises DeliveryError when the receiver did not take the message."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import smtplib
import time
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote_plus

import httpx
import orjson

from alerts.exceptions import DeliveryError
from alerts.notify.formats import alertmanager_alert, markdown, title
from alerts.routing import Channel


def post_json(client: httpx.Client, url: str, body: bytes, headers: dict[str, str], timeout: float) -> httpx.Response:
    try:
        response = client.post(url, content=body, headers={"content-type": "application/json", **headers},
                               timeout=timeout)
    except httpx.HTTPError as exc:
        raise DeliveryError("receiver unreachable", url=url, error=repr(exc)) from exc
    if response.status_code >= 300:
        raise DeliveryError("receiver refused", url=url, status=response.status_code, body=response.text[:200])
    return response


def check_robot_answer(response: httpx.Response, code_field: str) -> None:
    """WeCom/DingTalk answer errcode, Feishu code: 0 means delivered, even on HTTP 200."""
    try:
        answer = response.json()
    except ValueError as exc:
        raise DeliveryError("robot answered non-JSON", body=response.text[:200]) from exc
    if answer.get(code_field, 0) != 0:
        raise DeliveryError("robot refused the message", answer=answer)


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def dingtalk_signed_url(url: str, secret: str, now_ms: int) -> str:
    """DingTalk robot signing: HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret, base64, URL-quoted."""
    to_sign = f"{now_ms}\n{secret}".encode()
    sign = base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={now_ms}&sign={quote_plus(sign)}"


def feishu_sign(secret: str, now_s: int) -> str:
    """Feishu robot signing: HMAC-SHA256 keyed by "timestamp\\nsecret" over an empty message, base64."""
    key = f"{now_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def send(client: httpx.Client, channel: Channel, payload: dict[str, Any], idempotency_key: str) -> None:
    kind = channel.type
    url = channel.url or ""
    if kind == "webhook":
        body = orjson.dumps(payload)
        headers = {"Idempotency-Key": idempotency_key}
        secret = channel.secret()
        if secret:
            timestamp = str(int(time.time()))
            headers |= {"X-Qsmon-Timestamp": timestamp, "X-Qsmon-Signature": webhook_signature(secret, timestamp, body)}
        post_json(client, url, body, headers, channel.timeout_s)
    elif kind == "alertmanager":
        post_json(client, url.rstrip("/") + "/api/v2/alerts", orjson.dumps([alertmanager_alert(payload)]), {},
              channel.timeout_s)
    elif kind == "wecom":
        body = orjson.dumps({"msgtype": "markdown", "markdown": {"content": markdown(payload)}})
        check_robot_answer(post_json(client, url, body, {}, channel.timeout_s), "errcode")
    elif kind == "dingtalk":
        secret = channel.secret()
        target = dingtalk_signed_url(url, secret, int(time.time() * 1000)) if secret else url
        body = orjson.dumps({"msgtype": "markdown", "markdown": {"title": title(payload), "text": markdown(payload)}})
        check_robot_answer(post_json(client, target, body, {}, channel.timeout_s), "errcode")
    elif kind == "feishu":
        message: dict[str, Any] = {
            "msg_type": "interactive",
            "card": {"header": {"title": {"tag": "plain_text", "content": title(payload)},
                                "template": "red" if payload["severity"] == "critical" else "orange"},
                     "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": markdown(payload)}}]},
        }
        secret = channel.secret()
        if secret:
            now_s = int(time.time())
            message = {"timestamp": str(now_s), "sign": feishu_sign(secret, now_s), **message}
        check_robot_answer(post_json(client, url, orjson.dumps(message), {}, channel.timeout_s), "code")
    elif kind == "smtp":
        _send_mail(channel, payload, idempotency_key)
    else:  # pragma: no cover - the channel model admits no other type
        raise DeliveryError("unknown channel type", type=kind)


def new_mail(channel: Channel, subject: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = channel.sender or ""
    message["To"] = ", ".join(channel.recipients)
    message.set_content(text)
    return message


def deliver_mail(channel: Channel, message: EmailMessage, *, timeout_s: float | None = None) -> None:
    """One SMTP session: STARTTLS and login as the channel says; DeliveryError when the server refuses."""
    try:
        with smtplib.SMTP(channel.host or "localhost", channel.port, timeout=timeout_s or channel.timeout_s) as smtp:
            if channel.starttls:
                smtp.starttls()
            user = os.environ.get(channel.username_env) if channel.username_env else None
            if user:
                smtp.login(user, os.environ.get(channel.password_env or "", ""))
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError("mail not accepted", host=channel.host, error=repr(exc)) from exc


def _send_mail(channel: Channel, payload: dict[str, Any], idempotency_key: str) -> None:
    message = new_mail(channel, title(payload), markdown(payload))
    message["Message-ID"] = f"<{idempotency_key}@qsmon>"  # receivers de-duplicate a retried mail by this id
    deliver_mail(channel, message)
