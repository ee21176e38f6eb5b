"""Notification channels and routing, from a YAML file (``QSMON_CHANNELS_FILE``).

```yaml
dashboard_url: http://grafana.example/d/qsmon-trends   # linked from every message
channels:
  - name: duty-webhook
    type: webhook              # webhook | alertmanager | smtp | wecom | dingtalk | feishu
    url: https://ops.example/qsmon
    secret_env: QSMON_WEBHOOK_SECRET     # HMAC-SHA256 key (webhook) or robot signing secret (dingtalk, feishu)
    severities: [critical]     # default: warning and critical
    regions: ["421083"]        # GB/T 2260 prefixes; default: every region
    plans: [jingzhou-2023]     # default: every plan
  - name: mail
    type: smtp
    host: smtp.example
    port: 587
    starttls: true
    sender: qsmon@example
    recipients: [duty@example]
    username_env: QSMON_SMTP_USER
    password_env: QSMON_SMTP_PASSWORD
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qsmon.exceptions import ConfigError
from qsmon.regions import is_within

ChannelType = Literal["webhook", "alertmanager", "smtp", "wecom", "dingtalk", "feishu"]


class Channel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    type: ChannelType
    url: str | None = None
    secret_env: str | None = None
    severities: tuple[Literal["warning", "critical"], ...] = ("warning", "critical")
    regions: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    host: str | None = None
    port: int = 25
    starttls: bool = False
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    username_env: str | None = None
    password_env: str | None = None
    timeout_s: float = 5.0

    def secret(self) -> str | None:
        return os.environ.get(self.secret_env) if self.secret_env else None


class ChannelsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dashboard_url: str = "http://127.0.0.1:3000/d/qsmon-trends"
    channels: tuple[Channel, ...] = ()


class Routable(Protocol):
    @property
    def plan_id(self) -> str: ...

    @property
    def scope(self) -> Any: ...


def wants(channel: Channel, evaluation: Routable, severity: str) -> bool:
    if severity not in channel.severities:
        return False
    if channel.plans and evaluation.plan_id not in channel.plans:
        return False
    region = evaluation.scope.region_code
    return not channel.regions or any(is_within(region, prefix) or is_within(prefix, region)
                                      for prefix in channel.regions)


def load_channels(path: Path | None) -> ChannelsConfig:
    if path is None:
        return ChannelsConfig()
    try:
        config = ChannelsConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError("invalid channels file", file=str(path), error=str(exc)) from exc
    names = [c.name for c in config.channels]
    if len(set(names)) != len(names):
        raise ConfigError("channel names must be unique", file=str(path))
    for channel in config.channels:
        if channel.type != "smtp" and not channel.url:
            raise ConfigError("channel needs a url", channel=channel.name)
        if channel.type == "smtp" and not (channel.host and channel.sender and channel.recipients):
            raise ConfigError("smtp channel needs host, sender and recipients", channel=channel.name)
    return config
