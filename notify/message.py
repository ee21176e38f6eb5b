"""The one message every channel renders: alert notifications and report announcements alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notify.roster import Person


@dataclass(frozen=True, slots=True)
class Message:
    title: str  # robots' titles, the mail subject
    markdown: str  # robots' and mail's body (Chinese, for people)
    data: Mapping[str, Any]  # the webhook body (JSON, for machines)
    urgent: bool = False  # Feishu draws the card red
    alertmanager: Sequence[Mapping[str, Any]] = ()  # alerts for Alertmanager's API v2; empty: not an alert
    attachments: Sequence[Path] = field(default=())  # files a mail carries
    mentions: Sequence[Person] = ()  # robots @-mention them (the duty roster's people on duty)
