"""Notification channels and routing, from a YAML file (``QSMON_CHANNELS_FILE``).

```yaml
dashboard_url: http://grafana.example/d/qsmon-trends   # linked from every message
channels:
  - name: duty-webhook
    type: webhook              # webhook | alertmanager | smtp | wecom | dingtalk | feishu
    url: https://ops.example/qsmon
    secret_env: QSMON_WEBHOOK_SECRET     # HMAC-SHA256 key (webhook) or robot signing secret (dingtalk, feishu)
    severities: [critical]     # default: warning and critical (info: only where asked)
    regions: ["421083"]        # GB/T 2260 prefixes; default: every region
    plans: [jingzhou-2023]     # default: every plan
    group_by: [plan]           # one message per group: plan, jurisdiction, indicator, region, window, severity
    group_wait_s: 30           # after the group's first change (default 30; Alertmanager channels 0)
    group_interval_s: 300      # then at most one message per group this often (default 300; Alertmanager 0)
  - name: mail
    type: smtp
    host: smtp.example
    port: 587
    starttls: true
    sender: qsmon@example
    recipients: [duty@example]
    username_env: QSMON_SMTP_USER
    password_env: QSMON_SMTP_PASSWORD
    mute_time_intervals: [nights]   # hold messages while one is active; one summary when it ends
    mention: {severities: [critical]}   # @ the on-duty people of the roster (dingtalk, wecom, feishu)
roster_file: duty-roster.yaml  # who is on duty which days (notify.roster), relative to this file
time_intervals:
  - {name: nights, hours: ["18:00-08:30"], non_working_days: true}
office_hours: {start: "08:30", end: "17:30"}   # escalation counts these hours of working days
escalations:                   # unacknowledged this many working hours: notify these channels, once per step
  - {after_working_hours: 4, channels: [leader], severities: [critical]}
inhibit_rules:                 # default: counties fold into their city's line for the same indicator and window
  - source: {region_level: jurisdiction}
    target: {region_level: region}
    equal: [plan, indicator, subcategory, window]
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from notify.roster import Roster, load_roster
from notify.schedule import OfficeHours, TimeInterval
from qsmon.exceptions import ConfigError, yaml_problem
from qsmon.regions import is_within
from qsmon.workdays import Calendar

ChannelType = Literal["webhook", "alertmanager", "smtp", "wecom", "dingtalk", "feishu"]
GroupLabel = Literal["plan", "jurisdiction", "indicator", "region", "window", "severity"]


class Mention(BaseModel):
    """Which messages of a robot channel @-mention the roster's people on duty."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severities: tuple[Literal["info", "warning", "critical"], ...] = ("critical",)


class Escalation(BaseModel):
    """A firing alert nobody acknowledged for ``after_working_hours`` (office hours of working days, since its last
    change) is sent once to ``channels``; later steps wait longer. Matches like a channel (severities, plans,
    regions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    after_working_hours: float = Field(gt=0)
    channels: tuple[str, ...] = Field(min_length=1)
    severities: tuple[Literal["info", "warning", "critical"], ...] = ("warning", "critical")
    plans: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


class Channel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    type: ChannelType
    url: SecretStr | None = None  # robot URLs carry their key in the query: never printed, logged or stored
    secret_env: str | None = None
    severities: tuple[Literal["info", "warning", "critical"], ...] = ("warning", "critical")
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
    # Grouping, as Alertmanager does it: messages with equal values of `group_by` go out together, the first
    # `group_wait` after the first of them, later ones at most every `group_interval`. Alertmanager channels
    # default to neither: Alertmanager groups by itself.
    mute_time_intervals: tuple[str, ...] = ()  # names of time_intervals
    mention: Mention | None = None
    group_by: tuple[GroupLabel, ...] = ("plan",)
    group_wait_s: float | None = Field(default=None, ge=0)
    group_interval_s: float | None = Field(default=None, ge=0)

    @property
    def group_wait(self) -> float:
        if self.group_wait_s is not None:
            return self.group_wait_s
        return 0.0 if self.type == "alertmanager" else 30.0

    @property
    def group_interval(self) -> float:
        if self.group_interval_s is not None:
            return self.group_interval_s
        return 0.0 if self.type == "alertmanager" else 300.0

    def group_key(self, payload: Mapping[str, Any]) -> str:
        return "|".join(f"{label}={payload.get(label, '')}" for label in self.group_by)

    def secret(self) -> str | None:
        return os.environ.get(self.secret_env) if self.secret_env else None

    @property
    def endpoint(self) -> str:
        return self.url.get_secret_value() if self.url else ""

    def variables(self) -> set[str]:
        """The environment variables this channel reads its secrets from."""
        return {name for name in (self.secret_env, self.username_env, self.password_env) if name}

    def secrets(self) -> list[str]:
        """Every value of this channel that must not reach a log line or a stored error."""
        values = [self.endpoint, self.secret()]
        if self.endpoint:
            parts = urlsplit(self.endpoint)
            values += [parts.password, parts.username, parts.query, parts.path]
            values += [value for _, value in parse_qsl(parts.query)]
            # Feishu puts its token in the path: mask segments that look like tokens, not words such as open-apis.
            values += [seg for seg in parts.path.split("/") if len(seg) >= 8 and any(c.isdigit() for c in seg)]
        values += [os.environ.get(name) for name in (self.username_env, self.password_env) if name]
        plain = {v for v in values if v and len(v) >= 4}  # shorter values would mask ordinary words
        # A receiver may echo them URL-encoded; longest first, so a URL is masked whole before its parts.
        return sorted(
            plain | {quote(v, safe="") for v in plain} | {quote_plus(v) for v in plain}, key=len, reverse=True
        )

    def scrub(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return text


class InhibitRule(BaseModel):
    """Like Alertmanager's inhibit_rules: while a message matching `source` goes out (or its alert fires), one
    matching `target` with the same `equal` labels, for a region within the source's, folds into the source's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: dict[str, str]
    target: dict[str, str]
    equal: tuple[str, ...] = ("plan", "indicator", "subcategory", "window")

    def folds(self, source: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
        return (
            all(str(source.get(k)) == v for k, v in self.source.items())
            and all(str(target.get(k)) == v for k, v in self.target.items())
            and all(source.get(k) == target.get(k) for k in self.equal)
            and is_within(str(target.get("region", "")), str(source.get("region", "")))
            and source.get("region") != target.get("region")
        )


# A city firing for an indicator and window carries its counties that fire for the same, in one line.
DEFAULT_INHIBIT_RULES = (InhibitRule(source={"region_level": "jurisdiction"}, target={"region_level": "region"}),)


class ChannelsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dashboard_url: str = "http://127.0.0.1:3000/d/qsmon-trends"
    channels: tuple[Channel, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT_RULES
    roster_file: Path | None = None
    roster: Roster | None = None  # inline, or read from roster_file when the file is loaded
    time_intervals: tuple[TimeInterval, ...] = ()
    office_hours: OfficeHours = OfficeHours()
    escalations: tuple[Escalation, ...] = ()

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)

    def muting(self, channel: Channel) -> list[TimeInterval]:
        return [i for i in self.time_intervals if i.name in channel.mute_time_intervals]

    def muted(self, channel: Channel, now: datetime, timezone: str, calendar: Calendar | None = None) -> bool:
        """Whether one of the channel's mute intervals is active: its messages wait until none is."""
        return any(i.active(now, timezone, calendar) for i in self.muting(channel))


class Routable(Protocol):
    @property
    def plan_id(self) -> str: ...

    @property
    def scope(self) -> Any: ...


def wants(channel: Channel | Escalation, evaluation: Routable, severity: str) -> bool:
    if severity not in channel.severities:
        return False
    if channel.plans and evaluation.plan_id not in channel.plans:
        return False
    region = evaluation.scope.region_code
    return not channel.regions or any(
        is_within(region, prefix) or is_within(prefix, region) for prefix in channel.regions
    )


def _sendable(url: str) -> bool:
    """Whether httpx can send to ``url``, as the notifier will: checked when the file is read, not at 3 am."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return False
    try:
        parsed = httpx.URL(url)
        port = parsed.port or 0  # a port that is not a number fails here
        host = parsed.host  # an international name that does not encode (xn--) fails here
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeError):
        return False
    return parsed.scheme in ("http", "https") and bool(host) and port <= 65535


def _check_names(config: ChannelsConfig) -> None:
    """Every time interval and escalation channel named is defined: a typo found when the file is read."""
    intervals = {i.name for i in config.time_intervals}
    for channel in config.channels:
        if unknown := set(channel.mute_time_intervals) - intervals:
            raise ConfigError(
                "channel names a time interval the file does not define",
                channel=channel.name,
                intervals=sorted(unknown),
            )
    names = {c.name for c in config.channels}
    for step in config.escalations:
        if unknown := set(step.channels) - names:
            raise ConfigError("escalation names a channel the file does not define", channels=sorted(unknown))


def load_channels(path: Path | None) -> ChannelsConfig:
    if path is None:
        return ChannelsConfig()
    try:
        config = ChannelsConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except ValidationError as exc:  # without the input values: a URL with its key would be printed
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False, include_input=False)
        )
        raise ConfigError("invalid channels file", file=str(path), error=problems) from None
    except yaml.YAMLError as exc:  # never the line itself: it may hold a robot's key
        raise ConfigError("invalid channels file", file=str(path), error=yaml_problem(exc)) from None
    except OSError as exc:
        raise ConfigError("invalid channels file", file=str(path), error=str(exc)) from exc
    names = [c.name for c in config.channels]
    if len(set(names)) != len(names):
        raise ConfigError("channel names must be unique", file=str(path))
    _check_names(config)
    if config.roster_file is not None:
        roster_path = config.roster_file if config.roster_file.is_absolute() else path.parent / config.roster_file
        config = config.model_copy(update={"roster_file": roster_path, "roster": load_roster(roster_path)})
    for channel in config.channels:
        if channel.type != "smtp" and not channel.url:
            raise ConfigError("channel needs a url", channel=channel.name)
        if channel.url and not _sendable(channel.endpoint):  # not printed: robot URLs carry their keys
            raise ConfigError(
                "channel url is not an http(s) URL with a host and port that can be sent to (a typo,"
                " a space or an invisible character pasted into it?)",
                channel=channel.name,
            )
        if channel.type == "smtp" and not (channel.host and channel.sender and channel.recipients):
            raise ConfigError("smtp channel needs host, sender and recipients", channel=channel.name)
    return config
