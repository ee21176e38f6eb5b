"""All settings in one frozen model, read from ``QSMON_*`` variables and an optional YAML file.

Precedence: explicit arguments > environment > the file named by ``QSMON_CONFIG_FILE`` > defaults. Defaults point at
the local stack (``qsmon stack up``). Every value is checked when read: an unknown key in the file, a time zone that
does not exist or a negative size is an error naming the setting, never a surprise later. A secret may also come
from a file: ``QSMON_DATABASE_URL_FILE=/run/secrets/db`` (for container secrets).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from difflib import get_close_matches
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal, get_origin
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, PositiveFloat, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from qsmon.exceptions import ConfigError, yaml_problem

Port = Field(ge=1, le=65535)
MIN_TOKEN_LENGTH = 16
INVALID_DATABASE_URL = (
    "not a valid PostgreSQL URL: percent-encode special characters in the password (or give it in PGPASSWORD)"
)


class SecretUrl(SecretStr):
    """A URL that may carry credentials (``user:password@``, ``?token=``): printed with them masked."""

    def _display(self) -> str:
        try:
            parts = urlsplit(self.get_secret_value())
            netloc = parts.hostname or ""
            if parts.port:
                netloc = f"{netloc}:{parts.port}"
        except ValueError:  # not a URL at all: show nothing of it
            return "**********"
        if parts.username or parts.password:
            netloc = f"***@{netloc}"
        path = "/***" if parts.path not in ("", "/") else parts.path  # a token may sit in the path
        return urlunsplit((parts.scheme, netloc, path, "***" if parts.query else "", ""))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QSMON_", frozen=True, extra="forbid")

    config_file: Path | None = Field(default=None, description="YAML file with any of these settings")

    kafka_bootstrap: str = Field(
        default="127.0.0.1:19092",
        pattern=r"^[^,\s:]+:\d{1,5}(,[^,\s:]+:\d{1,5})*$",
        description="Kafka bootstrap servers, host:port[,host:port]",
    )
    database_url: SecretStr = Field(
        default=SecretStr("postgresql://qsmon:qsmon@127.0.0.1:15432/qsmon"),
        description="TimescaleDB (the app role); the password may come from PGPASSWORD",
    )
    prometheus_url: SecretUrl = Field(default=SecretUrl("http://127.0.0.1:19090"), description="Prometheus")
    alertmanager_url: SecretUrl = Field(
        default=SecretUrl("http://127.0.0.1:19093"), description="Alertmanager (API v2)"
    )
    grafana_url: SecretUrl = Field(
        default=SecretUrl("http://127.0.0.1:3000"), description="Grafana, for `qsmon dashboards push`"
    )

    results_topic: str = Field(
        default="inspection.results.v1", min_length=1, description="results topic (key = sample id)"
    )
    dlq_topic: str = Field(
        default="inspection.results.dlq", min_length=1, description="records the worker refused, with their reasons"
    )
    changes_topic: str = Field(
        default="rollups.changes.v1", min_length=1, description="rollup keys changed by each stored batch"
    )
    results_partitions: int = Field(default=6, ge=1, le=1000, description="partitions `qsmon init` creates")
    kafka_replication_factor: int = Field(
        default=1,
        ge=1,
        le=5,
        description="replicas of each topic `qsmon init` "
        "creates (3 on a replicated cluster: min.insync.replicas is then 2)",
    )

    worker_group: str = Field(default="qsmon-worker", min_length=1, description="the workers' consumer group")
    worker_batch_size: int = Field(
        default=5000, ge=1, le=100_000, description="records per batch, at most: one fetch, stored in one transaction"
    )
    worker_metrics_port: int = Field(
        default=9401, ge=1, le=65535, description="the worker's /metrics, /healthz and /readyz (next free port up)"
    )
    metrics_host: str = Field(
        default="127.0.0.1", min_length=1, description="address /metrics listens on (worker, alert service)"
    )
    worker_session_timeout_s: float = Field(
        default=30.0, ge=6, le=300, description="how soon the group notices a worker that died"
    )
    worker_ready_commit_age_s: float = Field(
        default=300.0, gt=0, description="not ready when records wait and nothing was stored for this long"
    )

    ingest_host: str = Field(default="127.0.0.1", min_length=1, description="the ingest API's bind address")
    ingest_port: int = Field(default=8480, ge=1, le=65535, description="the ingest API's port")
    api_host: str = Field(default="127.0.0.1", min_length=1, description="the read API's bind address")
    api_port: int = Field(default=8490, ge=1, le=65535, description="the read API's port")
    api_workers: int = Field(
        default=1,
        ge=1,
        le=32,
        description="read API processes (more than one pays only with spare cores; each "
        "enforces its share of a token's rate)",
    )
    api_burst_seconds: float = Field(
        default=10.0, ge=1.0, le=60.0, description="a token's burst: this many seconds of its requests a minute"
    )
    api_token_concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="requests of one token under way at once, per read API process (beyond: 429)",
    )
    ingest_tokens: tuple[SecretStr, ...] = Field(
        default=(), description="bearer tokens of the ingest API (JSON list; each 16 characters or more)"
    )
    ingest_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="largest request body")
    ingest_max_records: int = Field(default=20_000, ge=1, description="lines of one NDJSON batch, at most")
    ingest_records_per_minute: int = Field(
        default=20_000,
        ge=1,
        description="records a minute each ingest token may send (a token's own "
        "quota wins); beyond: 429 with Retry-After",
    )
    ingest_max_errors: int = Field(default=100, ge=1, le=10_000, description="errors listed in a 422 (then counted)")
    ingest_ack_timeout_s: float = Field(
        default=4.0, gt=0, le=120, description="Kafka's acknowledgement, else 503 (answered within 5 s)"
    )
    ingest_header_timeout_s: float = Field(
        default=10.0, gt=0, description="a request's headers must arrive within this"
    )
    ingest_body_timeout_s: float = Field(
        default=60.0, gt=0, description="and its body within this; else the connection is closed"
    )

    plans_dir: Path | None = Field(default=None, description="the site's plan files, besides the presets")
    active_plans: tuple[str, ...] = Field(default=(), description="plan ids the alert engine evaluates (empty: all)")

    reference_figures_file: Path | None = Field(
        default=None,
        description="figures published elsewhere (province, nation) the monthly bulletin shows beside the local ones",
    )
    population_file: Path | None = Field(
        default=None,
        description="residents per region code, for sampling volumes set per thousand residents (plan sampling_tasks)",
    )
    bureau_name: str = Field(
        default="",
        description="the bureau issuing the public notice (信息公告), printed in "
        "its title and signature (default: the plan's jurisdiction + 市场监督管理局)",
    )
    notice_number: str = Field(
        default="{year}年第{month}期",
        description="the public notice's number (公告号); {year} and {month} are filled in",
    )
    notice_texts_file: Path | None = Field(
        default=None, description="the site's paragraphs of the public notice (default: reports/notice_texts.yaml)"
    )
    api_public_min_batches: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="public rate cells over fewer batches are suppressed (they would identify a firm)",
    )
    public_failure_columns: tuple[str, ...] = Field(
        default=(), description="columns of the 不合格产品信息 workbook to publish (empty: every published column)"
    )
    case_deadlines_file: Path | None = Field(
        default=None, description="the site's follow-up steps and deadlines (default: qsmon/case_deadlines.yaml)"
    )
    workdays_file: Path | None = Field(
        default=None,
        description="the bureau's working-day calendar: holidays and "
        "make-up working days per year from the State Council's notices, read "
        "beside the chinese-calendar package's years (qsmon workdays check)",
    )
    cases_due_soon_working_days: int = Field(
        default=2, ge=0, le=20, description="a step is due soon this many working days before"
    )
    cases_digest_hour: int = Field(
        default=8, ge=0, le=23, description="local hour of the daily digest of open cases per bureau"
    )

    channels_file: Path | None = Field(default=None, description="notification channels and routing (YAML)")
    alerts_group: str = Field(
        default="qsmon-alerts", min_length=1, description="the alert service's group on the change feed"
    )
    alerts_sweep_seconds: float = Field(
        default=60.0, gt=0, description="full re-evaluation: windows roll forward, stale data shows"
    )
    alerts_hold_seconds: float = Field(
        default=600.0, ge=0, description="back at target this long before an alert resolves"
    )
    alerts_cooldown_seconds: float = Field(
        default=3600.0, ge=0, description="firing again within this reopens the same alert"
    )
    alerts_repeat_seconds: float = Field(
        default=86400.0, gt=0, description="a still-firing alert is announced again this often"
    )
    alerts_repeat_working_hours: bool = Field(
        default=False, description="reminders wait for office hours of a working day (official calendar)"
    )
    alerts_repeat_backoff: tuple[PositiveFloat, ...] = Field(
        default=(),
        description="reminders of one alert wait these many seconds in turn, the last one repeating "
        "(e.g. [86400, 259200, 604800]: a day, 3 days, then weekly); empty: every "
        "alerts_repeat_seconds",
    )
    ack_secret: SecretStr | None = Field(
        default=None,
        description="key that signs the acknowledge links in robot "
        "messages (HMAC-SHA256); empty: messages carry no link",
    )
    ack_link_url: str | None = Field(
        default=None,
        description="the read API's address as people reach it (e.g. "
        "https://qsmon.example); the links point to its /v1/ack",
    )
    ack_link_hours: float = Field(
        default=72.0, gt=0, le=24 * 30, description="an acknowledge link works this long after its message was sent"
    )
    alerts_alertmanager_refresh_seconds: float = Field(
        default=300.0, gt=0, le=1800, description="firing alerts re-sent to Alertmanager this often"
    )
    alerts_no_data_days: int = Field(
        default=7, ge=1, le=90, description="a scope with no results this long, where some were due: no_data"
    )
    alerts_metrics_port: int = Field(
        default=9410, ge=1, le=65535, description="the alert service's /metrics, /healthz and /readyz"
    )
    alerts_ready_sweep_age_s: float = Field(
        default=600.0, gt=0, description="not ready when the last sweep is older than this"
    )
    federation_instances_file: Path | None = Field(
        default=None, description="the qsmon instances `qsmon federate pull` reads (YAML: name, url, token_env)"
    )
    alerts_leader_lease_seconds: float = Field(
        default=10.0,
        ge=5,
        le=600,
        description="a leader silent this long (host or network lost) loses its "
        "database session and the lead: a standby leads within this "
        "plus its retry (5 s)",
    )

    retention_history_days: int | None = Field(
        default=None,
        ge=30,
        description="drop result history older than this (whole chunks); "
        "rollups and current verdicts stay (empty: keep all)",
    )
    retention_outbox_days: int = Field(default=90, ge=1, description="delivered notifications are deleted after this")
    retention_alert_events_days: int | None = Field(
        default=None, ge=30, description="events of resolved alerts are deleted after this (empty: keep)"
    )

    log_format: Literal["text", "json"] = Field(default="text", description="text, or one JSON object per line")
    timezone: str = Field(default="Asia/Shanghai", description="the zone plans count days in (IANA name)")

    @field_validator("ack_link_url")
    @classmethod
    def _link_base(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("the read API's address as people reach it, e.g. https://qsmon.example")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"no such time zone {value!r} (an IANA name such as Asia/Shanghai)") from exc
        return value

    @field_validator("ingest_tokens")
    @classmethod
    def _guessable_tokens(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        # An empty token would match "Bearer " with nothing after it; a short one is a guess away.
        for token in value:
            secret = token.get_secret_value()
            if len(secret) < MIN_TOKEN_LENGTH or any(c.isspace() for c in secret):
                raise ValueError(
                    f"every token needs {MIN_TOKEN_LENGTH} characters or more, without spaces"
                    " (qsmon tokens create makes scoped ones)"
                )
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr) -> SecretStr:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        if not value.get_secret_value().strip():  # libpq would quietly use its own defaults
            raise ValueError("empty: a PostgreSQL URL is needed")
        try:
            parts = conninfo_to_dict(value.get_secret_value())
        except psycopg.Error:  # its message quotes the URL, password included: never shown
            raise ValueError(INVALID_DATABASE_URL) from None
        # An unencoded @ or / in the password shifts the rest into host, port or database name, where errors and
        # `qsmon config` would show it.
        if any("@" in str(parts.get(key, "")) for key in ("host", "port", "dbname")) or not re.fullmatch(
            r"[0-9,]*", str(parts.get("port", ""))
        ):
            raise ValueError(
                "the URL does not split into user, host, port and database: an @ or / in the password"
                " or user must be written %40 or %2F"
            )
        return value

    @field_validator("plans_dir")
    @classmethod
    def _existing_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():  # the site's plans would silently be missing
            raise ValueError(f"no such directory: {value}")
        return value

    @field_validator("prometheus_url", "alertmanager_url", "grafana_url")
    @classmethod
    def _http_url(cls, value: SecretUrl) -> SecretUrl:
        try:
            parts = urlsplit(value.get_secret_value())
            parts.port  # noqa: B018 - parses the port: raises on a bad one
        except ValueError as exc:
            raise ValueError("not a URL") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an http(s) URL with a host is needed")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            InitSettingsSource(settings_cls, _secret_files()),
        ]
        config_file = os.environ.get("QSMON_CONFIG_FILE")
        if config_file:
            if not Path(config_file).is_file():  # read as no file at all, every setting would silently default
                raise ConfigError(f"QSMON_CONFIG_FILE: no such file: {config_file}")
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    def masked(self) -> dict[str, Any]:
        """The settings as printed for operators: secrets as ``**********``, URLs without their credentials (the
        database's too: which database a command reaches is what an operator checks first)."""
        shown = {name: _shown(value) for name, value in self.model_dump().items()}
        shown["database_url"] = _database_shown(self.dsn)
        return shown

    @property
    def dsn(self) -> str:
        return self.database_url.get_secret_value()


def _secret_fields() -> list[str]:
    return [name for name, info in Settings.model_fields.items() if "Secret" in str(info.annotation)]


def _secret_files() -> dict[str, Any]:
    """``QSMON_<SECRET>_FILE`` names a file holding the secret (Docker and Kubernetes secrets are files)."""
    values: dict[str, Any] = {}
    environ = {key.upper(): value for key, value in os.environ.items()}  # as pydantic-settings reads names
    for name in _secret_fields():
        path = environ.get(f"QSMON_{name.upper()}_FILE")
        if not path:
            continue
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"QSMON_{name.upper()}_FILE: cannot read {path}: {exc.strerror}") from None
        values[name] = _secrets_list(text) if _is_list(name) else text
    return values


def _is_list(name: str) -> bool:
    return get_origin(Settings.model_fields[name].annotation) is tuple


def _secrets_list(text: str) -> list[str]:
    """Several secrets from one file: a JSON list of strings, as in the variable, or one a line (what secret stores
    write; lines starting with # are comments)."""
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ConfigError("a secrets file starting with [ must hold a JSON list of strings")
        return items
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _database_shown(dsn: str) -> str:
    """Where the database URL points, for operators: user, hosts and ports, database name, and the names (not
    values) of any options; the password never. Parts libpq would take from its defaults say so."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(dsn)
    hosts = str(parts.get("host") or parts.get("hostaddr") or "(libpq default)").split(",")
    ports = str(parts.get("port") or "5432").split(",")
    where = ",".join(f"[{h}]" if ":" in h else h for h in hosts) + ":" + ",".join(ports)
    shown = f"user={parts.get('user', '(libpq default)')} host={where} dbname={parts.get('dbname', '(libpq default)')}"
    if parts.get("password"):
        shown += " password=***"
    others = sorted(k for k in parts if k not in ("user", "password", "host", "hostaddr", "port", "dbname"))
    return shown + (f" (also set: {', '.join(others)})" if others else "")


def _shown(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return str(value)  # its own display: masked
    if isinstance(value, tuple | list):
        return [_shown(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def problems(exc: ValidationError) -> list[str]:
    """One line per setting: where it came from doesn't matter, which setting and why does."""
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        name = ".".join(str(p) for p in err["loc"]) or "(settings)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "not a qsmon setting (misspelt?)"
        lines.append(f"QSMON_{name.upper()}: {message}")
    return lines


def load_settings(**overrides: Any) -> Settings:
    """The settings, or a ConfigError listing every problem, one line each (no traceback)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems(exc))) from None
    except yaml.YAMLError as exc:  # the config file's line is not quoted: it may hold a password
        raise ConfigError(f"QSMON_CONFIG_FILE is not valid YAML: {yaml_problem(exc)}") from None


def misspelt_variables(environ: Mapping[str, str]) -> list[str]:
    """``QSMON_*`` variables that are no setting but nearly one: the environment, unlike the YAML file, may hold
    other ``QSMON_*`` names (a channel's secret_env), so only a near miss is reported, and not refused."""
    known = {f"QSMON_{name.upper()}" for name in Settings.model_fields} | {"QSMON_CONFIG_FILE"}
    known |= {f"QSMON_{name.upper()}_FILE" for name in _secret_fields()}
    lines = []
    # Names are matched as pydantic-settings reads them: without regard to case.
    for variable in sorted(v for v in environ if v.upper().startswith("QSMON_") and v.upper() not in known):
        near = get_close_matches(variable.upper(), known, n=1, cutoff=0.85)
        if near:
            lines.append(f"{variable}: not a qsmon setting, and ignored; did you mean {near[0]}?")
    return lines


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = load_settings()
    for line in misspelt_variables(os.environ):
        logging.getLogger("qsmon.settings").warning("%s", line)
    return settings


@cache
def documented() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) of every setting: the README's table is generated from this."""
    rows = []
    for name, info in Settings.model_fields.items():
        default = info.get_default(call_default_factory=True)
        shown = _shown(default)
        text = (
            "" if shown in (None, (), []) else (", ".join(map(str, shown)) if isinstance(shown, list) else str(shown))
        )
        if isinstance(default, SecretStr) and not isinstance(default, SecretUrl):
            text = "(local stack)" if default.get_secret_value() else ""
        rows.append((f"QSMON_{name.upper()}", text, info.description or ""))
    return rows
