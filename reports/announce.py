"""Sending a finished report to a notification channel: the summary as a message, the files attached to mail."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from alerts.notify.channels import (
    check_robot_answer,
    deliver_mail,
    dingtalk_url,
    feishu_sign,
    new_mail,
    post_json,
)
from alerts.routing import Channel


def _markdown(title: str, summary: str, files: Sequence[Path]) -> str:
    listed = "\n".join(f"- {path.name}" for path in files)
    return f"### {title}\n{summary}\n\n报告文件:\n{listed}"


def announce(client: httpx.Client, channel: Channel, title: str, summary: str, files: Sequence[Path]) -> None:
    """One message per report; raises DeliveryError when the channel does not take it."""
    import time

    import orjson

    text = _markdown(title, summary, files)
    if channel.type in ("webhook", "alertmanager"):
        body: dict[str, Any] = {"kind": "monthly_report", "title": title, "summary": summary,
                                "files": [str(p) for p in files]}
        post_json(client, channel, orjson.dumps(body), {})
    elif channel.type == "wecom":
        check_robot_answer(channel, post_json(client, channel, orjson.dumps({"msgtype": "markdown", "markdown": {
            "content": text}}), {}), "errcode")
    elif channel.type == "dingtalk":
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
        check_robot_answer(channel, post_json(client, channel, orjson.dumps(body), {}, url=dingtalk_url(channel)),
                           "errcode")
    elif channel.type == "feishu":
        message: dict[str, Any] = {"msg_type": "interactive", "card": {
            "header": {"title": {"tag": "plain_text", "content": title}},
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}]}}
        secret = channel.secret()
        if secret:
            now = int(time.time())
            message = {"timestamp": str(now), "sign": feishu_sign(secret, now), **message}
        check_robot_answer(channel, post_json(client, channel, orjson.dumps(message), {}), "code")
    else:
        _mail(channel, title, text, files)


def _mail(channel: Channel, title: str, text: str, files: Sequence[Path]) -> None:
    message = new_mail(channel, title, text)
    for path in files:
        kind, _ = mimetypes.guess_type(path.name)
        maintype, subtype = (kind or "application/octet-stream").split("/", 1)
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    deliver_mail(channel, message, timeout_s=max(30.0, channel.timeout_s))  # attachments take longer
