"""Sending a finished report to a notification channel: the summary as a message, the files attached to mail."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import httpx

from notify.channels import send
from notify.message import Message
from notify.routing import Channel
from qsmon.escaping import markdown_text


def report_message(title: str, summary: str, files: Sequence[Path]) -> Message:
    listed = "\n".join(f"- {path.name}" for path in files)
    # the summary names firms (多次不合格企业): plain words in the robot's Markdown, line by line
    text = "\n".join(markdown_text(line) for line in summary.splitlines())
    return Message(
        title=title,
        markdown=f"### {title}\n{text}\n\n报告文件:\n{listed}",
        data={"kind": "monthly_report", "title": title, "summary": summary, "files": [str(p) for p in files]},
        attachments=tuple(files),
    )


def announce(client: httpx.Client, channel: Channel, title: str, summary: str, files: Sequence[Path]) -> None:
    """One message per report; raises DeliveryError when the channel does not take it."""
    key = "qsmon-report-" + hashlib.sha256(title.encode()).hexdigest()[:16]  # one report, one key: ASCII for headers
    send(client, channel, report_message(title, summary, files), key)
