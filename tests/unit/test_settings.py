"""The settings model: what operators see of it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.workers import ROOT


def test_qsmon_config_masks_every_credential() -> None:
    env = {**os.environ, "QSMON_DATABASE_URL": "postgresql://qsmon:db-pass-9876@db:5432/qsmon",
           "QSMON_PROMETHEUS_URL": "http://ops:prom-pass-5432@prometheus:9090",
           "QSMON_ALERTMANAGER_URL": "http://alertmanager:9093/?token=am-token-1098",
           "QSMON_GRAFANA_URL": "https://admin:grafana-pass-7654@grafana.example",
           "QSMON_INGEST_TOKENS": '["ingest-token-3210"]'}
    shown = subprocess.run([sys.executable, "-m", "cli", "config"], cwd=ROOT, env=env, capture_output=True,
                           text=True, check=True).stdout
    for secret in ("db-pass-9876", "prom-pass-5432", "am-token-1098", "grafana-pass-7654", "ingest-token-3210"):
        assert secret not in shown
    assert "prometheus:9090" in shown  # where it points is still shown


class TestSecretUrls:
    def test_credentials_anywhere_in_a_url_are_masked(self) -> None:
        from qsmon.settings import SecretUrl

        shown = str(SecretUrl("https://ops:pw-1234@grafana.example:3000/proxy;key=path-secret-99?token=q-secret"))
        assert shown == "https://***@grafana.example:3000/***?***"
        assert str(SecretUrl("http://prometheus:9090")) == "http://prometheus:9090"

    def test_a_malformed_url_is_masked_whole(self) -> None:
        from qsmon.settings import SecretUrl

        assert str(SecretUrl("http://[::1:9090/x?token=abc")) == "**********"

    def test_a_database_url_the_driver_cannot_parse_names_no_password(self) -> None:
        import pytest

        from qsmon.exceptions import ConfigError
        from qsmon.storage import connect

        with pytest.raises(ConfigError) as failure:
            connect("postgresql://qsmon:S3cr%t!pw@127.0.0.1:1/qsmon")
        assert "S3cr" not in str(failure.value)
        assert "percent-encode" in str(failure.value)
