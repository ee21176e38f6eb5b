"""All settings in one frozen model, read from ``QSMON_*`` variables and an optional YAML file.

Precedence: explicit arguments > environment > the file named by ``QSMON_CONFIG_FILE`` > defaults.
Defaults point at the local stack (``qsmon stack up``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
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
    model_config = SettingsConfigDict(env_prefix="QSMON_", frozen=True, extra="ignore")

    config_file: Path | None = Field(default=None, description="YAML file with any of these settings")

    kafka_bootstrap: str = "127.0.0.1:19092"
    database_url: SecretStr = SecretStr("postgresql://qsmon:qsmon@127.0.0.1:15432/qsmon")
    prometheus_url: SecretUrl = SecretUrl("http://127.0.0.1:19090")
    alertmanager_url: SecretUrl = SecretUrl("http://127.0.0.1:19093")
    grafana_url: SecretUrl = SecretUrl("http://127.0.0.1:3000")

    results_topic: str = "inspection.results.v1"
    dlq_topic: str = "inspection.results.dlq"
    changes_topic: str = "rollups.changes.v1"
    results_partitions: int = 6

    worker_group: str = "qsmon-worker"
    worker_batch_size: int = 5000
    worker_batch_seconds: float = 0.5
    worker_metrics_port: int = 9401
    # Where /metrics listens (worker, alert service): loopback unless a Prometheus on another host scrapes it.
    metrics_host: str = "127.0.0.1"
    # How soon the group notices a worker that died without leaving (SIGKILL, lost host).
    worker_session_timeout_s: float = 30.0

    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8480
    ingest_tokens: tuple[SecretStr, ...] = ()
    ingest_max_body_bytes: int = 8 * 1024 * 1024
    ingest_max_records: int = 20_000  # lines of one NDJSON batch; a valid record is ~300-600 bytes
    ingest_max_errors: int = 100  # errors listed in a 422; the rest are counted
    ingest_ack_timeout_s: float = 4.0  # Kafka's acknowledgement, else 503 (answered within 5 s)
    ingest_header_timeout_s: float = 10.0  # a request's headers must arrive within this
    ingest_body_timeout_s: float = 60.0  # and its body within this after them; else the connection is closed

    plans_dir: Path | None = Field(default=None, description="extra plan files besides the presets")
    active_plans: tuple[str, ...] = Field(default=(), description="plan ids the alert engine evaluates (empty: all)")

    channels_file: Path | None = Field(default=None, description="notification channels and routing (YAML)")
    alerts_group: str = "qsmon-alerts"
    alerts_sweep_seconds: float = 60.0  # full re-evaluation: windows roll forward, stale data shows
    alerts_hold_seconds: float = 600.0  # back at target this long before an alert resolves
    alerts_cooldown_seconds: float = 3600.0  # firing again within this reopens the same alert
    alerts_repeat_seconds: float = 86400.0  # a still-firing alert is announced again this often
    alerts_repeat_working_hours: bool = False  # reminders wait for office hours of a working day (official calendar)
    alerts_alertmanager_refresh_seconds: float = 300.0  # firing alerts re-sent to Alertmanager this often
    alerts_no_data_days: int = 7  # a scope with no results this many days, where some were due, raises no_data
    alerts_metrics_port: int = 9410
    timezone: str = "Asia/Shanghai"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        import os

        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("QSMON_CONFIG_FILE")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    def masked(self) -> dict[str, Any]:
        """The settings as printed for operators: secrets as ``**********``, URLs without their credentials."""
        return {name: _shown(value) for name, value in self.model_dump().items()}

    @property
    def dsn(self) -> str:
        return self.database_url.get_secret_value()


def _shown(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return str(value)  # its own display: masked
    if isinstance(value, tuple | list):
        return [_shown(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
